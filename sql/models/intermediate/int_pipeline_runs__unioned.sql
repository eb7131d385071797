{#- Runs of every provider of var('providers') in one shape: each provider's convert model
    (int_<provider>__runs, keyed, mapped and typed per the shared 'runs' shape) unioned, with what is
    computed the same way for all of them. A view over the per-provider tables. Deleted runs stay here,
    flagged (is_deleted), for mart_metric_coverage; every other reader leaves them out.
    - is_concluded: the provider's own terminal flag where it has one, else status = DONE. Unfinished
      means not is_concluded, everywhere.
    - is_stale: unfinished, and its last activity (updated_at, else started_at, else created_at) is more
      than `stale_after_hours` (var, default 168) before the provider's newest loaded activity (the
      latest finished_at, else started_at, else created_at of its runs: not wall time, so a quiet
      provider or a fixed-clock world is not all stale); or the source marked it stale. -#}
{{ config(materialized='view') }}

{%- set stale_after_hours = var('stale_after_hours', 168) | int %}

with unioned as (
    {{ union_provider_models('runs') }}
),

concluded as (
    select *, coalesce(provider_concluded, status = 'DONE') as is_concluded
    from unioned
),

newest_activity as (
    select provider, max(coalesce(finished_at, started_at, created_at)) as newest_activity_at
    from unioned
    where not is_deleted
    group by provider
)

select
    concluded.*,
    not concluded.is_concluded and (
        coalesce(concluded.source_stale, false)
        or coalesce(concluded.updated_at, concluded.started_at, concluded.created_at)
            < {{ dbt.dateadd('hour', -stale_after_hours, 'newest_activity.newest_activity_at') }}
    ) as is_stale,
    {{ duration_sec('concluded.started_at', 'concluded.finished_at') }} as duration_sec,
    {{ duration_sec('concluded.created_at', 'concluded.started_at') }} as queue_sec
from concluded
left join newest_activity
    on concluded.provider = newest_activity.provider
