{#- mart_dora_summary: each row's previous_* columns describe the window of the same length ending where
    the current one starts, and a previous window without data (previous_days_covered = 0) counts
    nothing and is rated nowhere: no measure, no tier (never a low rating for want of data). Returns
    the services where that does not hold. -#}
select service
from {{ ref('mart_dora_summary') }}
where previous_window_end <> window_start
    or previous_window_start <> {{ dbt.dateadd('day', '-window_days', 'window_start') }}
    or previous_days_covered is null
    or previous_days_covered > window_days
    or (
        previous_days_covered = 0
        and (
            previous_deployments + previous_failed_deployments + previous_complete_weeks
                + previous_complete_months > 0
            or coalesce(
                previous_deployment_days_per_week_p50, previous_deployment_days_per_month_p50,
                previous_deployment_days_per_six_months, previous_lead_time_p50_hours,
                previous_change_failure_rate, previous_recovery_time_p50_hours
            ) is not null
            or coalesce(
                previous_deployment_frequency_tier, previous_lead_time_tier, previous_change_failure_rate_tier,
                previous_recovery_time_tier
            ) is not null
        )
    )
