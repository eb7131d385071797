with source as (
    select * from {{ raw_source('seamless_stages') }}
),

renamed as (
    select
        id as stage_id,
        run_id,
        {{ adapter.quote('type') }} as stage_kind,
        status as original_status,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('started_at') }} as started_at,
        {{ to_utc('ended_at') }} as finished_at,
        duration as reported_duration_sec,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
