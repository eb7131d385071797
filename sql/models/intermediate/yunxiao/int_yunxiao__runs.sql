{#- Yunxiao Flow pipeline runs in the shared run shape (macros/shapes.sql).
    - scope: `{organizationId}/{pipelineId}`; the run id (numbered per pipeline) is also its name
    - status/result: status_map (entity run); trigger: triggerMode via trigger_type_map
    - commit: from the run's sources; a run spans environments (its deploy jobs have them): UNKNOWN
    - its deployments are its deploy jobs/stages, of the run's commit -#}
with runs as (
    select
        {{ make_key(["'yunxiao'", make_key(['organization_id', 'pipeline_id'], '/')]) }} as scope_key,
        cast(pipeline_run_id as {{ dbt.type_string() }}) as run_id,
        cast(trigger_mode as {{ dbt.type_string() }}) as original_trigger,
        original_status,
        commit_sha,
        created_at,
        started_at,
        finished_at,
        updated_at
    from {{ ref('stg_yunxiao__pipeline_runs') }}
),

mapped as (
    select
        {{ make_key(['runs.scope_key', 'runs.run_id']) }} as run_key,
        'yunxiao' as provider,
        runs.scope_key,
        runs.run_id,
        runs.run_id as run_name,
        'pipeline' as run_kind,
        {{ status_columns('status_map') }},
        runs.original_status,
        cast(null as boolean) as provider_concluded,
        {{ trigger_type_column('runs.original_trigger', 'trigger_map') }} as trigger_type,
        runs.original_trigger,
        runs.commit_sha,
        'UNKNOWN' as environment,
        cast(null as {{ dbt.type_string() }}) as original_environment,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        runs.updated_at,
        false as source_stale,
        false as is_deployment,
        coalesce(runs.commit_sha, runs.run_id) as version
    from runs
    left join {{ status_map('yunxiao', 'run') }} as status_map
        on {{ status_lookup('runs.original_status') }} = status_map.status_lookup
    left join {{ trigger_type_map('yunxiao') }} as trigger_map
        on lower(runs.original_trigger) = trigger_map.trigger_lookup
)

{{ select_shape('runs', 'mapped') }}
