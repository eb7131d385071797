with source as (
    select * from {{ raw_source('northflank_release_flow_run_nodes') }}
),

renamed as (
    select
        project_id,
        pipeline_id,
        lower(stage) as stage,
        run_id,
        path as node_path,
        parent_path,
        depth,
        kind,
        ref,
        workflow_type,
        status as original_status,
        {{ to_utc('start_time') }} as started_at,
        {{ to_utc('end_time') }} as finished_at,
        attempts,
        max_attempts,
        error_code,
        error_message,
        lower(nullif(trim({{ json_text('spec', 'sha') }}), '')) as spec_sha,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
