{#- The four DORA measures per service and for all services together, over one window of production
    deployments, rated by the dora_benchmarks seed.
    Window: `dora_window_days` (var, default 90) days ending at `dora_window_end` (var, an ISO
    timestamp in UTC; default: the latest finish of a concluded production deployment), i.e.
    window_start < finished_at <= window_end.
    - Deployment frequency: distinct days with >= 1 successful production deployment, per ISO week of
      a calendar spine covering the window (weeks without deployments count as 0), median over weeks;
      likewise per calendar month; and per six months as the window's deployment days scaled to 182.5
      days. Each benchmark row names which of these it rates.
    - Lead time: median (and p90) of successful production deployments' lead_time_sec, in hours.
    - Change failure rate: failed / (successful + failed) production deployments, each counted once;
      cancelled and skipped are neither.
    - Recovery time: median hours from a failed production deployment to the next successful one of
      the same service and environment (failures in the window that have recovered). -#}
{%- set window_days = var('dora_window_days', 90) | int -%}
{%- set window_end = var('dora_window_end', none) -%}
{%- set report_year = var('dora_report_year', 2023) | int -%}
{%- set all_services = '(all services)' -%}

with production as (
    select service, finished_at, result, lead_time_sec, recovery_sec
    from {{ ref('fct_deployments') }}
    where counts_for_dora
      and finished_at is not null
),

bounds as (
    select
        {% if window_end -%}
        cast('{{ window_end }}' as timestamp)
        {%- else -%}
        max(finished_at)
        {%- endif %} as window_end
    from production
),

reporting_window as (
    select
        {{ dbt.dateadd('day', -window_days, 'window_end') }} as window_start,
        window_end
    from bounds
),

services as (
    select distinct service, false as is_all_services from production
    union all
    select '{{ all_services }}', true
),

in_window as (
    select production.*
    from production
    cross join reporting_window
    where production.finished_at > reporting_window.window_start
      and production.finished_at <= reporting_window.window_end
),

assigned as (
    select
        services.service,
        in_window.finished_at,
        in_window.result,
        in_window.lead_time_sec,
        in_window.recovery_sec
    from in_window
    inner join services
        on services.is_all_services or services.service = in_window.service
),

deployment_days as (
    select distinct
        service,
        cast(finished_at as date) as deployed_on,
        cast({{ dbt.date_trunc('week', 'finished_at') }} as date) as deployed_week,
        cast({{ dbt.date_trunc('month', 'finished_at') }} as date) as deployed_month
    from assigned
    where result = 'SUCCESS'
),

week_numbers as (
    {{ dbt.generate_series(window_days // 7 + 2) }}
),

weeks as (
    select
        cast({{ dbt.dateadd('day', '7 * (week_numbers.generated_number - 1)',
                            dbt.date_trunc('week', 'reporting_window.window_start')) }} as date) as week_start
    from week_numbers
    cross join reporting_window
    where {{ dbt.dateadd('day', '7 * (week_numbers.generated_number - 1)',
                          dbt.date_trunc('week', 'reporting_window.window_start')) }}
          <= reporting_window.window_end
),

month_numbers as (
    {{ dbt.generate_series(window_days // 28 + 2) }}
),

months as (
    select
        cast({{ dbt.dateadd('month', 'month_numbers.generated_number - 1',
                            dbt.date_trunc('month', 'reporting_window.window_start')) }} as date) as month_start
    from month_numbers
    cross join reporting_window
    where {{ dbt.dateadd('month', 'month_numbers.generated_number - 1',
                          dbt.date_trunc('month', 'reporting_window.window_start')) }}
          <= reporting_window.window_end
),

weekly_days as (
    select services.service, weeks.week_start, count(deployment_days.deployed_on) as days
    from services
    cross join weeks
    left join deployment_days
        on services.service = deployment_days.service
        and weeks.week_start = deployment_days.deployed_week
    group by services.service, weeks.week_start
),

monthly_days as (
    select services.service, months.month_start, count(deployment_days.deployed_on) as days
    from services
    cross join months
    left join deployment_days
        on services.service = deployment_days.service
        and months.month_start = deployment_days.deployed_month
    group by services.service, months.month_start
),

frequency as (
    select
        weekly.service,
        weekly.days_per_week_p50,
        monthly.days_per_month_p50
    from (
        select service, {{ median('days') }} as days_per_week_p50
        from weekly_days group by service
    ) as weekly
    left join (
        select service, {{ median('days') }} as days_per_month_p50
        from monthly_days group by service
    ) as monthly
        on weekly.service = monthly.service
),

measures as (
    select
        service,
        count(case when result = 'SUCCESS' then 1 end) as deployments,
        count(distinct case when result = 'SUCCESS' then cast(finished_at as date) end) as deployment_days,
        count(case when result in ('FAILURE', 'TIMED_OUT') then 1 end) as failed_deployments,
        count(lead_time_sec) as lead_time_deployments,
        {{ percentile_cont('lead_time_sec', 0.5) }} / 3600.0 as lead_time_p50_hours,
        {{ percentile_cont('lead_time_sec', 0.9) }} / 3600.0 as lead_time_p90_hours,
        count(recovery_sec) as recoveries,
        {{ percentile_cont('recovery_sec', 0.5) }} / 3600.0 as recovery_time_p50_hours
    from assigned
    group by service
),

summary as (
    select
        services.service,
        services.is_all_services,
        reporting_window.window_start,
        reporting_window.window_end,
        coalesce(measures.deployments, 0) as deployments,
        coalesce(measures.deployment_days, 0) as deployment_days,
        frequency.days_per_week_p50 as deployment_days_per_week_p50,
        frequency.days_per_month_p50 as deployment_days_per_month_p50,
        case
            when reporting_window.window_end is not null
                then cast(coalesce(measures.deployment_days, 0) as double precision) * 182.5 / {{ window_days }}
        end as deployment_days_per_six_months,
        coalesce(measures.lead_time_deployments, 0) as lead_time_deployments,
        measures.lead_time_p50_hours,
        measures.lead_time_p90_hours,
        coalesce(measures.failed_deployments, 0) as failed_deployments,
        cast(measures.failed_deployments as double precision)
            / nullif(measures.deployments + measures.failed_deployments, 0) as change_failure_rate,
        coalesce(measures.recoveries, 0) as recoveries,
        measures.recovery_time_p50_hours
    from services
    cross join reporting_window
    left join measures on services.service = measures.service
    left join frequency on services.service = frequency.service
),

rated_measures as (
    select service, 'deployment_frequency' as metric, 'deployment_days_per_week' as unit,
           deployment_days_per_week_p50 as value
    from summary
    union all
    select service, 'deployment_frequency', 'deployment_days_per_month', deployment_days_per_month_p50
    from summary
    union all
    select service, 'deployment_frequency', 'deployment_days_per_six_months', deployment_days_per_six_months
    from summary
    union all
    select service, 'lead_time', 'hours', lead_time_p50_hours from summary
    union all
    select service, 'change_failure_rate', 'ratio', change_failure_rate from summary
    union all
    select service, 'recovery_time', 'hours', recovery_time_p50_hours from summary
),

benchmarks as (
    select * from {{ ref('dora_benchmarks') }} where report_year = {{ report_year }}
),

tiers as (
    select service, metric, tier, label
    from (
        select
            rated_measures.service,
            rated_measures.metric,
            benchmarks.tier,
            benchmarks.label,
            row_number() over (
                partition by rated_measures.service, rated_measures.metric order by benchmarks.tier_rank
            ) as tier_order
        from rated_measures
        inner join benchmarks
            on rated_measures.metric = benchmarks.metric
            and rated_measures.unit = benchmarks.unit
        where rated_measures.value is not null
          and (benchmarks.lower is null or rated_measures.value >= benchmarks.lower)
          and (
            benchmarks.upper is null
            or rated_measures.value < benchmarks.upper
            or (benchmarks.upper_inclusive and rated_measures.value = benchmarks.upper)
          )
    ) as matching
    where tier_order = 1
)

select
    summary.service,
    summary.is_all_services,
    summary.window_start,
    summary.window_end,
    {{ window_days }} as window_days,
    {{ report_year }} as report_year,
    summary.deployments,
    summary.deployment_days,
    summary.deployment_days_per_week_p50,
    summary.deployment_days_per_month_p50,
    summary.deployment_days_per_six_months,
    deployment_frequency.tier as deployment_frequency_tier,
    summary.lead_time_deployments,
    summary.lead_time_p50_hours,
    summary.lead_time_p90_hours,
    lead_time.tier as lead_time_tier,
    summary.failed_deployments,
    summary.change_failure_rate,
    change_failure_rate.tier as change_failure_rate_tier,
    summary.recoveries,
    summary.recovery_time_p50_hours,
    recovery_time.tier as recovery_time_tier
from summary
left join tiers as deployment_frequency
    on summary.service = deployment_frequency.service and deployment_frequency.metric = 'deployment_frequency'
left join tiers as lead_time
    on summary.service = lead_time.service and lead_time.metric = 'lead_time'
left join tiers as change_failure_rate
    on summary.service = change_failure_rate.service and change_failure_rate.metric = 'change_failure_rate'
left join tiers as recovery_time
    on summary.service = recovery_time.service and recovery_time.metric = 'recovery_time'
