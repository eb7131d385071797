{#- Runs of every provider of var('providers') in one shape: each provider's convert model
    (int_<provider>__runs, keyed, mapped and typed per the shared 'runs' shape) unioned, with what is
    computed the same way for all of them. A view over the per-provider tables. -#}
{{ config(materialized='view') }}

with unioned as (
    {{ union_provider_models('runs') }}
)

select
    *,
    coalesce(provider_concluded, status = 'DONE') as is_concluded,
    source_stale as is_stale,
    {{ duration_sec('started_at', 'finished_at') }} as duration_sec,
    {{ duration_sec('created_at', 'started_at') }} as queue_sec
from unioned
