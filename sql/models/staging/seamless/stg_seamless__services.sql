with source as (
    select * from {{ raw_source('seamless_services') }}
),

renamed as (
    select
        id as service_id,
        name as service_name,
        pipeline_id,
        github_repo_url,
        use_staging,
        auto_deploy,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('last_run_at') }} as last_run_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
