{#- DORA measures per service, environment and ISO week (Monday, UTC) of the deployments' finish.
    A deployment counts once. `deployments` and `deployment_days` count successful ones; the change
    failure rate is failed / (successful + failed); cancelled deployments are counted apart and are
    neither. Recovery time is attributed to the week of the failed deployment. is_complete_week says
    whether the whole week lies inside the service's loaded data and before the build's as-of time
    (the current week, and a service's first, are partial: fewer days could deploy). -#}
with deployments as (
    select
        service,
        environment,
        cast({{ dbt.date_trunc('week', 'finished_at') }} as date) as week_start,
        cast(finished_at as date) as finished_on,
        result,
        lead_time_sec,
        recovery_sec
    from {{ ref('fct_deployments') }}
    where status = 'DONE'
      and result in ('SUCCESS', 'FAILURE', 'TIMED_OUT', 'CANCELLED')
      and finished_at is not null
),

weekly as (
    select
        service,
        environment,
        week_start,
        count(case when result = 'SUCCESS' then 1 end) as deployments,
        count(distinct case when result = 'SUCCESS' then finished_on end) as deployment_days,
        count(case when result in ('FAILURE', 'TIMED_OUT') then 1 end) as failed_deployments,
        count(case when result = 'CANCELLED' then 1 end) as cancelled_deployments,
        {{ percentile_cont("case when result = 'SUCCESS' then lead_time_sec end", 0.5) }} / 3600.0
            as lead_time_p50_hours,
        {{ percentile_cont("case when result = 'SUCCESS' then lead_time_sec end", 0.9) }} / 3600.0
            as lead_time_p90_hours,
        {{ percentile_cont('recovery_sec', 0.5) }} / 3600.0 as recovery_time_p50_hours,
        count(recovery_sec) as recoveries
    from deployments
    group by service, environment, week_start
)

select
    weekly.service,
    weekly.environment,
    weekly.week_start,
    deployments,
    deployment_days,
    failed_deployments,
    cancelled_deployments,
    lead_time_p50_hours,
    lead_time_p90_hours,
    cast(failed_deployments as double precision) / nullif(deployments + failed_deployments, 0)
        as change_failure_rate,
    recovery_time_p50_hours,
    recoveries,
    coalesce(
        cast(weekly.week_start as timestamp) >= data_starts.data_start
        and {{ dbt.dateadd('day', 7, 'cast(weekly.week_start as timestamp)') }} <= {{ as_of() }},
        false
    ) as is_complete_week
from weekly
left join {{ ref('int_services__data_start') }} as data_starts
    on weekly.service = data_starts.service
