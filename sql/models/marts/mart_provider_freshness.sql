{#- How fresh each provider's data is: one row per provider of var('providers'), whether or not it was
    ever loaded, for the report's "data as of" box and for schedulers' checks.
    - last_load_at / last_outcome / last_error: the provider's latest row in cicd_raw.etl_runs (one row
      per provider per `cicd-etl run`).
    - last_success_at: the latest load that landed its data (outcome success or partial: partial only
      means a budget ended the run and a backlog remains).
    - backlog: runs whose details are still to read (rows of cicd_raw.etl_backlog; when that table has
      none for the provider, the count the latest load left).
    - newest_activity_at, unfinished_runs, stale_runs: from fct_pipeline_runs (deleted runs are not there).
    - as_of: the build's as-of time (macro as_of: var('as_of'), converted to UTC; default when the build
      started), the same "now" as every other model's.
    The loader's tables exist only after a load by it: raw_source reads a missing one as no rows. -#}

with providers as (
    {{ provider_rows() }}
),

loads as (
    select
        provider,
        {{ to_utc('finished_at') }} as finished_at,
        outcome,
        error,
        backlog
    from {{ raw_source('etl_runs') }}
),

latest_load as (
    select provider, finished_at, outcome, error, backlog
    from (
        select
            loads.*,
            row_number() over (partition by provider order by finished_at desc) as recency
        from loads
    ) as ranked
    where recency = 1
),

successes as (
    select provider, max(finished_at) as last_success_at
    from loads
    where outcome in ('success', 'partial')
    group by provider
),

backlog as (
    select provider, count(*) as backlog_runs
    from {{ raw_source('etl_backlog') }}
    group by provider
),

runs as (
    select
        provider,
        max(coalesce(finished_at, started_at, created_at)) as newest_activity_at,
        count(*) filter (where not is_concluded) as unfinished_runs,
        count(*) filter (where is_stale) as stale_runs
    from {{ ref('fct_pipeline_runs') }}
    group by provider
)

select
    providers.provider,
    latest_load.finished_at as last_load_at,
    latest_load.outcome as last_outcome,
    latest_load.error as last_error,
    successes.last_success_at,
    cast(coalesce(backlog.backlog_runs, latest_load.backlog) as bigint) as backlog,
    runs.newest_activity_at,
    cast(coalesce(runs.unfinished_runs, 0) as bigint) as unfinished_runs,
    cast(coalesce(runs.stale_runs, 0) as bigint) as stale_runs,
    {{ as_of() }} as as_of
from providers
left join latest_load on providers.provider = latest_load.provider
left join successes on providers.provider = successes.provider
left join backlog on providers.provider = backlog.provider
left join runs on providers.provider = runs.provider
