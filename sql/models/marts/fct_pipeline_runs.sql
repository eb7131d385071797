{#- One row per run of any provider that is not deleted. -#}
with runs as (
    select * from {{ ref('int_pipeline_runs__unioned') }}
    where not is_deleted
),

scopes as (
    select scope_key, scope_name, service from {{ ref('int_scopes__resolved') }}
)

select
    runs.run_key,
    runs.provider,
    runs.scope_key,
    scopes.scope_name,
    scopes.service,
    runs.run_id,
    runs.run_name,
    runs.run_kind,
    runs.status,
    runs.result,
    runs.original_status,
    runs.is_status_unmapped,
    runs.is_concluded,
    runs.trigger_type,
    runs.original_trigger,
    runs.commit_sha,
    coalesce(runs.environment, 'UNKNOWN') as environment,
    runs.original_environment,
    runs.created_at,
    runs.started_at,
    runs.finished_at,
    runs.updated_at,
    runs.duration_sec,
    runs.queue_sec,
    runs.is_stale
from runs
left join scopes
    on runs.scope_key = scopes.scope_key
