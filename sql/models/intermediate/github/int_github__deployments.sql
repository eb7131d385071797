{#- GitHub deployments with what their statuses say: the newest state other than `inactive` (a later
    deployment to the environment made it inactive: it stays what it was), when work began
    (`in_progress`) and when it ended (the first final state), and the workflow job that ran it (the
    `log_url` of its statuses). `job_key` joins it to that job's unit; a deployment with no loaded job
    (made by another tool) is a run of its own (int_github__runs). A view. -#}
{{ config(materialized='view') }}

with statuses as (
    select
        *,
        row_number() over (
            partition by repository, deployment_id order by created_at desc, status_id desc
        ) as newest_rank
    from {{ ref('stg_github__deployment_statuses') }}
    where deleted_at is null and lower(original_status) <> 'inactive'
),

summary as (
    select
        repository,
        deployment_id,
        max(case when newest_rank = 1 then original_status end) as original_status,
        min(case when lower(original_status) = 'in_progress' then created_at end) as started_at,
        min(case when lower(original_status) in ('success', 'failure', 'error') then created_at end)
            as finished_at,
        max(log_run_id) as log_run_id,
        max(log_job_id) as log_job_id
    from statuses
    group by repository, deployment_id
)

select
    deployments.repository,
    deployments.deployment_id,
    deployments.environment_name,
    deployments.commit_sha,
    deployments.created_at,
    deployments.updated_at,
    summary.original_status,
    summary.started_at,
    summary.finished_at,
    summary.log_run_id,
    case
        when summary.log_job_id is not null
            then {{ make_key(['deployments.repository', 'summary.log_job_id']) }}
    end as job_key,
    deployments.deleted_at is not null as is_deleted
from {{ ref('stg_github__deployments') }} as deployments
left join summary
    on deployments.repository = summary.repository and deployments.deployment_id = summary.deployment_id
