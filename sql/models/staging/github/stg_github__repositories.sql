with source as (
    select * from {{ raw_source('github_repositories') }}
),

renamed as (
    select
        full_name as repository,
        id as repository_id,
        owner,
        name as repository_name,
        private as is_private,
        archived as is_archived,
        default_branch,
        html_url,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('pushed_at') }} as pushed_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
