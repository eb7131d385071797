{#- Jobs of every attempt; `original_status` is the conclusion once completed, else the status. -#}
with source as (
    select * from {{ raw_source('github_workflow_jobs') }}
),

renamed as (
    select
        repository,
        id as job_id,
        run_id,
        run_attempt,
        workflow_name,
        name as job_name,
        status,
        conclusion,
        case when lower(status) = 'completed' then coalesce(conclusion, status) else status end
            as original_status,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('started_at') }} as started_at,
        {{ to_utc('completed_at') }} as completed_at,
        lower(nullif(trim(head_sha), '')) as commit_sha,
        head_branch,
        runner_name,
        html_url,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
