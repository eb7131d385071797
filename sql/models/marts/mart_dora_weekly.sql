{#- DORA measures per service, environment and ISO week (Monday, UTC) of the deployments' finish, and
    per environment and week for all services together (service '(all services)', is_all_services: the
    trend a delivery lead reads first, measured over the deployments themselves - its deployment days
    are the distinct days any service deployed, its percentiles over every service's deployments - not
    averaged over services).
    A deployment counts once. `deployments` and `deployment_days` count successful ones; the change
    failure rate is failed / (successful + failed); cancelled deployments are counted apart and are
    neither. Recovery time is attributed to the week of the failed deployment. is_complete_week says
    whether the whole week lies inside the loaded data (the service's; for all services, the earliest of
    the services deploying to that environment) and before the build's as-of time (the current week,
    and a service's first, are partial: fewer days could deploy). -#}
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

-- each deployment under its service, and again under all services
attributed as (
    select deployments.*, false as is_all_services
    from deployments
    union all
    select
        {{ all_services() }},
        environment,
        week_start,
        finished_on,
        result,
        lead_time_sec,
        recovery_sec,
        true
    from deployments
),

weekly as (
    select
        service,
        is_all_services,
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
    from attributed
    group by service, is_all_services, environment, week_start
),

service_starts as (
    select distinct deployments.service, deployments.environment, data_starts.data_start
    from deployments
    inner join {{ ref('int_services__data_start') }} as data_starts
        on deployments.service = data_starts.service
),

data_starts as (
    select service, environment, data_start from service_starts
    union all
    select {{ all_services() }}, environment, min(data_start)
    from service_starts
    group by environment
)

select
    weekly.service,
    weekly.is_all_services,
    weekly.environment,
    weekly.week_start,
    weekly.deployments,
    weekly.deployment_days,
    weekly.failed_deployments,
    weekly.cancelled_deployments,
    weekly.lead_time_p50_hours,
    weekly.lead_time_p90_hours,
    cast(weekly.failed_deployments as double precision)
        / nullif(weekly.deployments + weekly.failed_deployments, 0) as change_failure_rate,
    weekly.recovery_time_p50_hours,
    weekly.recoveries,
    coalesce(
        cast(weekly.week_start as timestamp) >= data_starts.data_start
        and {{ dbt.dateadd('day', 7, 'cast(weekly.week_start as timestamp)') }} <= {{ as_of() }},
        false
    ) as is_complete_week
from weekly
left join data_starts
    on weekly.service = data_starts.service
    and weekly.environment = data_starts.environment
