with source as (
    select * from {{ raw_source('yunxiao_pipeline_run_jobs') }}
),

renamed as (
    select
        organization_id,
        pipeline_id,
        pipeline_run_id,
        stage_index,
        stage_name,
        id as job_id,
        name as job_name,
        status as original_status,
        case when start_time > {{ to_utc_epoch_floor() }} then {{ to_utc('start_time') }} end as started_at,
        case when end_time > {{ to_utc_epoch_floor() }} then {{ to_utc('end_time') }} end as finished_at,
        job_sign,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
