with source as (
    select * from {{ raw_source('github_deployments') }}
),

renamed as (
    select
        repository,
        id as deployment_id,
        lower(nullif(trim(sha), '')) as commit_sha,
        ref,
        task,
        environment as environment_name,
        original_environment,
        creator_login,
        production_environment,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
