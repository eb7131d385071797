{#- Concluded runs per provider, scope and ISO week (Monday, UTC) of finished_at. failure_rate and the
    duration/queue percentiles cover runs with a verdict (SUCCESS, FAILURE, TIMED_OUT): cancelled and
    skipped runs are counted but never folded into failures. -#}
with runs as (
    select
        provider,
        scope_key,
        cast({{ dbt.date_trunc('week', 'finished_at') }} as date) as week_start,
        result,
        duration_sec,
        queue_sec,
        result in ('SUCCESS', 'FAILURE', 'TIMED_OUT') as has_verdict
    from {{ ref('fct_pipeline_runs') }}
    where status = 'DONE'
      and finished_at is not null
),

weekly as (
    select
        provider,
        scope_key,
        week_start,
        count(*) as runs_finished,
        count(case when result = 'SUCCESS' then 1 end) as succeeded,
        count(case when result = 'FAILURE' then 1 end) as failed,
        count(case when result = 'CANCELLED' then 1 end) as cancelled,
        count(case when result = 'SKIPPED' then 1 end) as skipped,
        count(case when result = 'TIMED_OUT' then 1 end) as timed_out,
        count(case when result = 'UNKNOWN' then 1 end) as unknown_result,
        {{ percentile_cont('case when has_verdict then duration_sec end', 0.5) }} as duration_p50_sec,
        {{ percentile_cont('case when has_verdict then duration_sec end', 0.9) }} as duration_p90_sec,
        {{ percentile_cont('case when has_verdict then duration_sec end', 0.95) }} as duration_p95_sec,
        {{ percentile_cont('case when has_verdict then queue_sec end', 0.5) }} as queue_p50_sec
    from runs
    group by provider, scope_key, week_start
)

select
    provider,
    scope_key,
    week_start,
    runs_finished,
    succeeded,
    failed,
    cancelled,
    skipped,
    timed_out,
    unknown_result,
    cast(failed + timed_out as double precision) / nullif(succeeded + failed + timed_out, 0) as failure_rate,
    duration_p50_sec,
    duration_p90_sec,
    duration_p95_sec,
    queue_p50_sec
from weekly
