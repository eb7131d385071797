{#- The four DORA measures per service and for all services together, over a window of production
    deployments, rated by the benchmark tiers (mart_dora_benchmarks); and the same over the period
    before it, as `previous_*` columns of the same row, so a reader can say what changed.
    Grain: service (one row each, plus the all-services row).
    Window: `dora_window_days` (var, default 90) days ending at the build's as-of time (var `as_of`,
    default: when the build started; macro as_of), i.e. window_start < finished_at <= window_end. The
    previous period is the window of the same length ending at window_start. Both are rows of `windows`,
    measured by the same CTEs, and pivoted into one row per service at the end. No day before a
    service's first loaded data counts (int_services__data_start; the all-services row starts at the
    earliest): a window is rated from max(its start, data_start), and days_covered says how many days
    that is (0 when the data starts after the window: no measure, no tier).
    - Deployment frequency: distinct days with >= 1 successful production deployment, per ISO week,
      median over the COMPLETE weeks inside the covered window (weeks without deployments count 0; a
      partial first or last week is left out, never counted as a low one); likewise per complete
      calendar month. A service whose covered window holds no complete week (or month) is rated on its
      deployment days pro-rated over the days covered (x 7, or x 365.25 / 12). Per six months: the
      deployment days pro-rated over the days covered x 182.5. Each benchmark row names which of these
      it rates.
    - Lead time: median (and p90) of successful production deployments' lead_time_sec, in hours.
    - Change failure rate: failed / (successful + failed) production deployments, each counted once;
      cancelled and skipped are neither.
    - Recovery time: median hours from a failed production deployment to the next successful one of
      the same service and environment (failures in the window that have recovered). -#}
{%- set window_days = var('dora_window_days', 90) | int -%}
{%- set report_year = var('dora_report_year', 2023) | int -%}
{#- the columns measured per window: the current window's, and each again as previous_<column> -#}
{%- set window_columns = [
    'window_start', 'window_end', 'days_covered', 'complete_weeks', 'complete_months',
    'deployments', 'deployment_days', 'deployment_days_per_week_p50', 'deployment_days_per_month_p50',
    'deployment_days_per_six_months', 'deployment_frequency_tier',
    'lead_time_deployments', 'lead_time_p50_hours', 'lead_time_p90_hours', 'lead_time_tier',
    'failed_deployments', 'change_failure_rate', 'change_failure_rate_tier',
    'recoveries', 'recovery_time_p50_hours', 'recovery_time_tier',
] -%}

with production as (
    select service, finished_at, result, lead_time_sec, recovery_sec
    from {{ ref('fct_deployments') }}
    where counts_for_dora
      and finished_at is not null
),

windows as (
    select
        cast('current' as {{ dbt.type_string() }}) as period,
        {{ dbt.dateadd('day', -window_days, as_of()) }} as window_start,
        {{ as_of() }} as window_end
    union all
    select
        cast('previous' as {{ dbt.type_string() }}),
        {{ dbt.dateadd('day', -2 * window_days, as_of()) }},
        {{ dbt.dateadd('day', -window_days, as_of()) }}
),

services as (
    select distinct service, false as is_all_services from production
    union all
    select {{ all_services() }}, true
),

data_starts as (
    select service, data_start from {{ ref('int_services__data_start') }}
),

earliest_start as (
    select min(data_start) as data_start
    from data_starts
    where service in (select service from production)
),

covered as (
    select
        services.service,
        services.is_all_services,
        case when services.is_all_services then earliest_start.data_start else data_starts.data_start end
            as data_start,
        windows.period,
        windows.window_start,
        windows.window_end
    from services
    cross join windows
    cross join earliest_start
    left join data_starts
        on services.service = data_starts.service
),

service_windows as (
    select
        service,
        is_all_services,
        data_start,
        period,
        window_start,
        window_end,
        case when data_start > window_start then data_start else window_start end as covered_start
    from covered
),

service_days as (
    select
        *,
        case
            when covered_start < window_end
                then cast(ceil({{ seconds_between('covered_start', 'window_end') }} / 86400.0) as integer)
            else 0
        end as days_covered
    from service_windows
),

in_window as (
    select production.*, windows.period
    from production
    inner join windows
        on production.finished_at > windows.window_start
        and production.finished_at <= windows.window_end
),

assigned as (
    select
        services.service,
        in_window.period,
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
        period,
        cast(finished_at as date) as deployed_on,
        cast({{ dbt.date_trunc('week', 'finished_at') }} as date) as deployed_week,
        cast({{ dbt.date_trunc('month', 'finished_at') }} as date) as deployed_month
    from assigned
    where result = 'SUCCESS'
),

-- both windows: from the previous one's start
first_start as (
    select min(window_start) as window_start from windows
),

week_numbers as (
    {{ dbt.generate_series(2 * window_days // 7 + 2) }}
),

weeks as (
    select
        cast({{ dbt.dateadd('day', '7 * (week_numbers.generated_number - 1)',
                            dbt.date_trunc('week', 'first_start.window_start')) }} as timestamp) as week_start
    from week_numbers
    cross join first_start
),

-- the ISO weeks entirely inside each service's covered window
complete_weeks as (
    select service_days.service, service_days.period, weeks.week_start
    from service_days
    inner join weeks
        on weeks.week_start >= service_days.covered_start
        and {{ dbt.dateadd('day', 7, 'weeks.week_start') }} <= service_days.window_end
),

month_numbers as (
    {{ dbt.generate_series(2 * window_days // 28 + 2) }}
),

months as (
    select
        cast({{ dbt.dateadd('month', 'month_numbers.generated_number - 1',
                            dbt.date_trunc('month', 'first_start.window_start')) }} as timestamp) as month_start
    from month_numbers
    cross join first_start
),

complete_months as (
    select service_days.service, service_days.period, months.month_start
    from service_days
    inner join months
        on months.month_start >= service_days.covered_start
        and {{ dbt.dateadd('month', 1, 'months.month_start') }} <= service_days.window_end
),

weekly_days as (
    select
        complete_weeks.service,
        complete_weeks.period,
        complete_weeks.week_start,
        count(deployment_days.deployed_on) as days
    from complete_weeks
    left join deployment_days
        on complete_weeks.service = deployment_days.service
        and complete_weeks.period = deployment_days.period
        and cast(complete_weeks.week_start as date) = deployment_days.deployed_week
    group by complete_weeks.service, complete_weeks.period, complete_weeks.week_start
),

monthly_days as (
    select
        complete_months.service,
        complete_months.period,
        complete_months.month_start,
        count(deployment_days.deployed_on) as days
    from complete_months
    left join deployment_days
        on complete_months.service = deployment_days.service
        and complete_months.period = deployment_days.period
        and cast(complete_months.month_start as date) = deployment_days.deployed_month
    group by complete_months.service, complete_months.period, complete_months.month_start
),

weekly as (
    select service, period, count(*) as complete_weeks, {{ median('days') }} as days_per_week_p50
    from weekly_days
    group by service, period
),

monthly as (
    select service, period, count(*) as complete_months, {{ median('days') }} as days_per_month_p50
    from monthly_days
    group by service, period
),

measures as (
    select
        service,
        period,
        count(case when result = 'SUCCESS' then 1 end) as deployments,
        count(distinct case when result = 'SUCCESS' then cast(finished_at as date) end) as deployment_days,
        count(case when result in ('FAILURE', 'TIMED_OUT') then 1 end) as failed_deployments,
        count(lead_time_sec) as lead_time_deployments,
        {{ percentile_cont('lead_time_sec', 0.5) }} / 3600.0 as lead_time_p50_hours,
        {{ percentile_cont('lead_time_sec', 0.9) }} / 3600.0 as lead_time_p90_hours,
        count(recovery_sec) as recoveries,
        {{ percentile_cont('recovery_sec', 0.5) }} / 3600.0 as recovery_time_p50_hours
    from assigned
    group by service, period
),

summary as (
    select
        service_days.service,
        service_days.period,
        service_days.is_all_services,
        service_days.window_start,
        service_days.window_end,
        service_days.data_start,
        service_days.days_covered,
        coalesce(weekly.complete_weeks, 0) as complete_weeks,
        coalesce(monthly.complete_months, 0) as complete_months,
        coalesce(measures.deployments, 0) as deployments,
        coalesce(measures.deployment_days, 0) as deployment_days,
        case
            when weekly.complete_weeks > 0 then weekly.days_per_week_p50
            when service_days.days_covered > 0
                then cast(coalesce(measures.deployment_days, 0) as double precision) * 7 / service_days.days_covered
        end as deployment_days_per_week_p50,
        case
            when monthly.complete_months > 0 then monthly.days_per_month_p50
            when service_days.days_covered > 0
                then cast(coalesce(measures.deployment_days, 0) as double precision) * (365.25 / 12)
                    / service_days.days_covered
        end as deployment_days_per_month_p50,
        case
            when service_days.days_covered > 0
                then cast(coalesce(measures.deployment_days, 0) as double precision) * 182.5
                    / service_days.days_covered
        end as deployment_days_per_six_months,
        coalesce(measures.lead_time_deployments, 0) as lead_time_deployments,
        measures.lead_time_p50_hours,
        measures.lead_time_p90_hours,
        coalesce(measures.failed_deployments, 0) as failed_deployments,
        cast(measures.failed_deployments as double precision)
            / nullif(measures.deployments + measures.failed_deployments, 0) as change_failure_rate,
        coalesce(measures.recoveries, 0) as recoveries,
        measures.recovery_time_p50_hours
    from service_days
    left join measures
        on service_days.service = measures.service and service_days.period = measures.period
    left join weekly
        on service_days.service = weekly.service and service_days.period = weekly.period
    left join monthly
        on service_days.service = monthly.service and service_days.period = monthly.period
),

rated_measures as (
    select
        service, period, 'deployment_frequency' as metric, 'deployment_days_per_week' as unit,
        deployment_days_per_week_p50 as value
    from summary
    union all
    select service, period, 'deployment_frequency', 'deployment_days_per_month', deployment_days_per_month_p50
    from summary
    union all
    select
        service, period, 'deployment_frequency', 'deployment_days_per_six_months',
        deployment_days_per_six_months
    from summary
    union all
    select service, period, 'lead_time', 'hours', lead_time_p50_hours from summary
    union all
    select service, period, 'change_failure_rate', 'ratio', change_failure_rate from summary
    union all
    select service, period, 'recovery_time', 'hours', recovery_time_p50_hours from summary
),

benchmarks as (
    select * from {{ ref('mart_dora_benchmarks') }}
),

tiers as (
    select service, period, metric, tier, label
    from (
        select
            rated_measures.service,
            rated_measures.period,
            rated_measures.metric,
            benchmarks.tier,
            benchmarks.label,
            row_number() over (
                partition by rated_measures.service, rated_measures.period, rated_measures.metric
                order by benchmarks.tier_rank
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
),

rated as (
    select
        summary.*,
        deployment_frequency.tier as deployment_frequency_tier,
        lead_time.tier as lead_time_tier,
        change_failure_rate.tier as change_failure_rate_tier,
        recovery_time.tier as recovery_time_tier
    from summary
    left join tiers as deployment_frequency
        on summary.service = deployment_frequency.service
        and summary.period = deployment_frequency.period
        and deployment_frequency.metric = 'deployment_frequency'
    left join tiers as lead_time
        on summary.service = lead_time.service
        and summary.period = lead_time.period
        and lead_time.metric = 'lead_time'
    left join tiers as change_failure_rate
        on summary.service = change_failure_rate.service
        and summary.period = change_failure_rate.period
        and change_failure_rate.metric = 'change_failure_rate'
    left join tiers as recovery_time
        on summary.service = recovery_time.service
        and summary.period = recovery_time.period
        and recovery_time.metric = 'recovery_time'
)

-- one row per service: the current window's columns, then the previous window's as previous_*
select
    current_window.service,
    current_window.is_all_services,
    {{ window_days }} as window_days,
    {{ report_year }} as report_year,
    current_window.data_start,
    {%- for column in window_columns %}
    current_window.{{ column }},
    {%- endfor %}
    {%- for column in window_columns %}
    previous_window.{{ column }} as previous_{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
from rated as current_window
inner join rated as previous_window
    on current_window.service = previous_window.service
    and previous_window.period = 'previous'
where current_window.period = 'current'
