{#- One row per attempt of a run. `original_status` is the conclusion once the attempt completed, else
    its status (the two are one value for status_map). -#}
with source as (
    select * from {{ raw_source('github_workflow_runs') }}
),

renamed as (
    select
        repository,
        id as run_id,
        run_attempt,
        workflow_id,
        name as workflow_name,
        display_title,
        path as workflow_path,
        event,
        status,
        conclusion,
        case when lower(status) = 'completed' then coalesce(conclusion, status) else status end
            as original_status,
        head_branch,
        lower(nullif(trim(head_sha), '')) as commit_sha,
        run_number,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('run_started_at') }} as run_started_at,
        actor_login,
        html_url,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
