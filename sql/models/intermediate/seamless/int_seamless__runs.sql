{#- Seamless CI/CD runs in the shared run shape (macros/shapes.sql).
    - scope: the service (`{serviceId}`); name: the commit message, else the run id
    - status/result: status_map (entity run); trigger: triggerType via trigger_type_map
    - commit: commitHash; the source marks runs it no longer polls as stale (`is_stale`)
    - a run spans environments (its DEPLOY stages have them): UNKNOWN; its deployments are its
      DEPLOY_* stages, of the run's commit
    - deleted: the run, or its service, is gone from the provider -#}
with runs as (
    select
        {{ make_key(["'seamless'", 'runs.service_id']) }} as scope_key,
        runs.*,
        runs.deleted_at is not null or services.deleted_at is not null as is_deleted
    from {{ ref('stg_seamless__runs') }} as runs
    left join {{ ref('stg_seamless__services') }} as services
        on runs.service_id = services.service_id
),

mapped as (
    select
        {{ make_key(['runs.scope_key', 'runs.run_id']) }} as run_key,
        'seamless' as provider,
        runs.scope_key,
        runs.run_id,
        coalesce(runs.commit_message, runs.run_id) as run_name,
        'pipeline' as run_kind,
        {{ status_columns('status_map') }},
        runs.original_status,
        cast(null as boolean) as provider_concluded,
        {{ trigger_type_column('runs.trigger_type', 'trigger_map') }} as trigger_type,
        runs.trigger_type as original_trigger,
        runs.commit_sha,
        'UNKNOWN' as environment,
        cast(null as {{ dbt.type_string() }}) as original_environment,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        runs.updated_at,
        runs.is_stale as source_stale,
        false as is_deployment,
        runs.is_deleted
    from runs
    left join {{ status_map('seamless', 'run') }} as status_map
        on {{ status_lookup('runs.original_status') }} = status_map.status_lookup
    left join {{ trigger_type_map('seamless') }} as trigger_map
        on lower(runs.trigger_type) = trigger_map.trigger_lookup
),

shaped as (
    select *, coalesce(commit_sha, run_name, run_id) as version
    from mapped
)

{{ select_shape('runs', 'shaped') }}
