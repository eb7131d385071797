{#- GoRules deployment runs in the shared run shape (macros/shapes.sql).
    - scope: the project (`{projectId}`)
    - status/result: status_map (entity run); started_at = createdAt (the API has no start time)
    - no commit, no trigger; a run spans environments (its jobs have them), so its own is UNKNOWN
    - its deployments are its jobs; what they deploy is the run's release (version, else name, id) -#}
with runs as (
    select
        {{ make_key(["'gorules'", 'project_id']) }} as scope_key,
        *
    from {{ ref('stg_gorules__deployment_runs') }}
),

mapped as (
    select
        {{ make_key(['runs.scope_key', 'runs.run_id']) }} as run_key,
        'gorules' as provider,
        runs.scope_key,
        runs.run_id,
        runs.run_name,
        'deployment' as run_kind,
        {{ status_columns('status_map') }},
        runs.original_status,
        cast(null as boolean) as provider_concluded,
        cast(null as {{ dbt.type_string() }}) as trigger_type,
        cast(null as {{ dbt.type_string() }}) as original_trigger,
        cast(null as {{ dbt.type_string() }}) as commit_sha,
        'UNKNOWN' as environment,
        cast(null as {{ dbt.type_string() }}) as original_environment,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        cast(null as timestamp) as updated_at,
        false as source_stale,
        false as is_deployment,
        coalesce(
            runs.release_version, runs.release_name, runs.release_id, runs.run_name, runs.run_id
        ) as version,
        runs.deleted_at is not null as is_deleted
    from runs
    left join {{ status_map('gorules', 'run') }} as status_map
        on {{ status_lookup('runs.original_status') }} = status_map.status_lookup
)

{{ select_shape('runs', 'mapped') }}
