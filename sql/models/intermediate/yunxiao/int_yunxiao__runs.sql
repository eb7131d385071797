{#- Yunxiao Flow pipeline runs in the shared run shape (macros/shapes.sql).
    - scope: `{organizationId}/{pipelineId}`; the run id (numbered per pipeline) is also its name
    - status/result: status_map (entity run); trigger: triggerMode via trigger_type_map
    - commit: from the run's sources; a run spans environments (its deploy jobs have them): UNKNOWN
    - its deployments are its deploy jobs/stages, of the run's commit
    - deleted: the run, or its pipeline, is gone from the provider -#}
with runs as (
    select
        {{ make_key(["'yunxiao'", make_key(['runs.organization_id', 'runs.pipeline_id'], '/')]) }} as scope_key,
        cast(runs.pipeline_run_id as {{ dbt.type_string() }}) as run_id,
        cast(runs.trigger_mode as {{ dbt.type_string() }}) as original_trigger,
        runs.original_status,
        runs.commit_sha,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        runs.updated_at,
        runs.deleted_at is not null or pipelines.deleted_at is not null as is_deleted
    from {{ ref('stg_yunxiao__pipeline_runs') }} as runs
    left join {{ ref('stg_yunxiao__pipelines') }} as pipelines
        on runs.organization_id = pipelines.organization_id and runs.pipeline_id = pipelines.pipeline_id
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
        coalesce(runs.commit_sha, runs.run_id) as version,
        runs.is_deleted
    from runs
    left join {{ status_map('yunxiao', 'run') }} as status_map
        on {{ status_lookup('runs.original_status') }} = status_map.status_lookup
    left join {{ trigger_type_map('yunxiao') }} as trigger_map
        on lower(runs.original_trigger) = trigger_map.trigger_lookup
)

{{ select_shape('runs', 'mapped') }}
