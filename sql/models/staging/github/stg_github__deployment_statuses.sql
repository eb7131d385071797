with source as (
    select * from {{ raw_source('github_deployment_statuses') }}
),

renamed as (
    select
        repository,
        deployment_id,
        id as status_id,
        state as original_status,
        environment as environment_name,
        log_run_id,
        log_job_id,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
