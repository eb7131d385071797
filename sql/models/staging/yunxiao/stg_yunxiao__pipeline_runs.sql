{#- Yunxiao reports "not yet" as epoch 0; the source stores NULL, and this guards against a 0 slipping
    through as 1970-01-01. -#}
with source as (
    select * from {{ raw_source('yunxiao_pipeline_runs') }}
),

renamed as (
    select
        organization_id,
        pipeline_id,
        pipeline_run_id,
        api,
        status as original_status,
        trigger_mode,
        {{ to_utc('create_time') }} as created_at,
        {{ to_utc('update_time') }} as updated_at,
        case when start_time > {{ to_utc_epoch_floor() }} then {{ to_utc('start_time') }} end as started_at,
        case when end_time > {{ to_utc_epoch_floor() }} then {{ to_utc('end_time') }} end as finished_at,
        creator_account_id,
        lower(nullif(trim(commit_sha), '')) as commit_sha,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
