with source as (
    select * from {{ raw_source('gorules_deployment_runs') }}
),

renamed as (
    select
        id as run_id,
        project_id,
        name as run_name,
        status as original_status,
        release_id,
        {{ json_text('release', 'name') }} as release_name,
        {{ json_text('release', 'version') }} as release_version,
        run_version,
        created_by_id,
        {{ to_utc('created_at') }} as created_at,
        -- the API has no start time: a run starts when it is created (contract)
        {{ to_utc('created_at') }} as started_at,
        {{ to_utc('completed_at') }} as finished_at,
        cancelled_by_id,
        cancelled_comment,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
