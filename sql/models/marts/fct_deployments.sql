with deployments as (
    select * from {{ ref('int_deployments__chained') }}
),

timed as (
    select
        *,
        coalesce(commit_first_seen_at, run_created_at) as lead_time_started_at,
        case
            when commit_first_seen_at is not null then 'commit_first_seen'
            when run_created_at is not null then 'deploying_run_created'
        end as lead_time_basis
    from deployments
)

select
    deployment_key,
    provider,
    scope_key,
    service,
    environment,
    original_environment,
    status,
    result,
    version,
    commit_sha,
    derived_from,
    source_key,
    source_units,
    run_key,
    started_at,
    finished_at,
    {{ duration_sec('started_at', 'finished_at') }} as duration_sec,
    status = 'DONE' and result in ('SUCCESS', 'FAILURE', 'TIMED_OUT') as is_concluded_attempt,
    result in ('FAILURE', 'TIMED_OUT') as is_failed,
    environment = 'PRODUCTION' and status = 'DONE' and result in ('SUCCESS', 'FAILURE', 'TIMED_OUT')
        as counts_for_dora,
    lead_time_started_at,
    lead_time_basis,
    case
        when result = 'SUCCESS' then {{ duration_sec('lead_time_started_at', 'finished_at') }}
    end as lead_time_sec,
    commit_first_seen_provider,
    previous_success_finished_at,
    next_success_finished_at,
    case
        when result in ('FAILURE', 'TIMED_OUT')
            then {{ duration_sec('finished_at', 'next_success_finished_at') }}
    end as recovery_sec,
    is_stale
from timed
