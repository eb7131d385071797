{#- Concluded stage units per provider, stage_type, stage_name and ISO week of finished_at; the same
    measures as mart_run_health_weekly (stages have no queue time). Durations are stage time: only units
    with times of their own (timing_source = unit). A unit whose times are its run's (a job the API
    reports no times for) is counted, with its result, but its run's span is not stage time: the run's
    time counts once, in mart_run_health_weekly. Approval gates are their own stage_type (APPROVAL), so
    their waits never add to the work of the other types. -#}
with stages as (
    select
        provider,
        stage_type,
        stage_name,
        cast({{ dbt.date_trunc('week', 'finished_at') }} as date) as week_start,
        result,
        case when timing_source = 'unit' then duration_sec end as duration_sec,
        timing_source = 'run' as is_run_timed,
        result in ('SUCCESS', 'FAILURE', 'TIMED_OUT') as has_verdict
    from {{ ref('fct_stage_runs') }}
    where status = 'DONE'
      and finished_at is not null
),

weekly as (
    select
        provider,
        stage_type,
        stage_name,
        week_start,
        count(*) as stages_finished,
        count(case when result = 'SUCCESS' then 1 end) as succeeded,
        count(case when result = 'FAILURE' then 1 end) as failed,
        count(case when result = 'CANCELLED' then 1 end) as cancelled,
        count(case when result = 'SKIPPED' then 1 end) as skipped,
        count(case when result = 'TIMED_OUT' then 1 end) as timed_out,
        count(case when result = 'UNKNOWN' then 1 end) as unknown_result,
        count(case when is_run_timed then 1 end) as run_timed_stages,
        {{ percentile_cont('case when has_verdict then duration_sec end', 0.5) }} as duration_p50_sec,
        {{ percentile_cont('case when has_verdict then duration_sec end', 0.9) }} as duration_p90_sec,
        {{ percentile_cont('case when has_verdict then duration_sec end', 0.95) }} as duration_p95_sec
    from stages
    group by provider, stage_type, stage_name, week_start
)

select
    provider,
    stage_type,
    stage_name,
    week_start,
    stages_finished,
    succeeded,
    failed,
    cancelled,
    skipped,
    timed_out,
    unknown_result,
    run_timed_stages,
    cast(failed + timed_out as double precision) / nullif(succeeded + failed + timed_out, 0) as failure_rate,
    duration_p50_sec,
    duration_p90_sec,
    duration_p95_sec
from weekly
