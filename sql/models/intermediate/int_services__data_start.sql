{#- Where each service's loaded data begins: the UTC day of the earliest run of any of its scopes (any
    provider). The DORA marts count no day before it. -#}
{{ config(materialized='view') }}

with runs as (
    select
        scopes.service,
        coalesce(runs.created_at, runs.started_at, runs.finished_at) as activity_at
    from {{ ref('int_pipeline_runs__unioned') }} as runs
    inner join {{ ref('int_scopes__resolved') }} as scopes
        on runs.scope_key = scopes.scope_key
    where not runs.is_deleted
)

select
    service,
    min(activity_at) as first_loaded_at,
    cast({{ dbt.date_trunc('day', 'min(activity_at)') }} as timestamp) as data_start
from runs
where activity_at is not null
group by service
