with source as (
    select * from {{ raw_source('seamless_runs') }}
),

renamed as (
    select
        id as run_id,
        service_id,
        status as original_status,
        trigger_type,
        lower(nullif(trim(commit_hash), '')) as commit_sha,
        commit_message,
        committer,
        pull_number,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('started_at') }} as started_at,
        {{ to_utc('ended_at') }} as finished_at,
        duration as reported_duration_sec,
        coalesce(is_stale, false) as is_stale,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
