{#- The units that do work, of every provider of var('providers'), in one shape (each provider's
    int_<provider>__stage_units: keyed, mapped, typed and classified), numbered in their run. The one
    table of the ~1 M units: fct_stage_runs is a view of it, and the deployment candidates read it.
    `sequence` orders a run's units by the provider's order hint (sort_index), then start, then the
    unit's own text key. Deleted units stay here, flagged (is_deleted), for mart_metric_coverage,
    numbered apart; fct_stage_runs and the deployment derivation leave them out. -#}
with unioned as (
    {{ union_provider_models('stage_units') }}
)

select
    run_key,
    stage_key,
    provider,
    scope_key,
    stage_name,
    stage_group,
    stage_type,
    original_type,
    row_number() over (
        partition by run_key, is_deleted
        order by sort_index nulls last, started_at nulls last, sort_key
    ) as sequence,
    status,
    result,
    original_status,
    is_status_unmapped,
    environment,
    original_environment,
    started_at,
    finished_at,
    {{ duration_sec('started_at', 'finished_at') }} as duration_sec,
    timing_source,
    is_deployment,
    is_deleted
from unioned
