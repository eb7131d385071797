{#- Northflank release-flow and workflow runs in the shared run shape (macros/shapes.sql).
    - scope: `{projectId}/{pipelineId}/{stage}` (release flows), `{projectId}/workflows/{workflowId}`
    - status/result: status_map (entity run); the provider's own `concluded` flag is kept
    - commit: arguments.sha, else the run's Build node's spec.sha
    - environment: a release flow's stage via environment_rules; a workflow run has none (UNKNOWN)
    - a release-flow run is itself one deployment (to its stage's environment), of the run's name
    - deleted: the run, or its pipeline / workflow, is gone from the provider -#}
with release_flow_runs as (
    select
        {{ make_key(["'northflank'", make_key(['runs.project_id', 'runs.pipeline_id', 'runs.stage'], '/')]) }}
            as scope_key,
        runs.run_id,
        runs.run_name,
        'release_flow' as run_kind,
        runs.original_status,
        runs.is_concluded,
        runs.argument_sha,
        runs.stage as environment_name,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        runs.updated_at,
        runs.deleted_at is not null or pipelines.deleted_at is not null as is_deleted
    from {{ ref('stg_northflank__release_flow_runs') }} as runs
    left join {{ ref('stg_northflank__pipelines') }} as pipelines
        on runs.project_id = pipelines.project_id and runs.pipeline_id = pipelines.pipeline_id
),

workflow_runs as (
    select
        {{ make_key(["'northflank'", make_key(['runs.project_id', "'workflows'", 'runs.workflow_id'], '/')]) }}
            as scope_key,
        runs.run_id,
        runs.run_name,
        'workflow' as run_kind,
        runs.original_status,
        runs.is_concluded,
        runs.argument_sha,
        cast(null as {{ dbt.type_string() }}) as environment_name,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        runs.updated_at,
        runs.deleted_at is not null or workflows.deleted_at is not null as is_deleted
    from {{ ref('stg_northflank__workflow_runs') }} as runs
    left join {{ ref('stg_northflank__workflows') }} as workflows
        on runs.project_id = workflows.project_id and runs.workflow_id = workflows.workflow_id
),

runs as (
    select {{ make_key(['scope_key', 'run_id']) }} as run_key, *
    from (
        select * from release_flow_runs
        union all
        select * from workflow_runs
    ) as unioned
),

build_shas as (
    select run_key, min(build_sha) as build_sha
    from {{ ref('int_northflank__nodes') }}
    where build_sha is not null and not is_deleted
    group by run_key
),

environment_names as (
    select distinct lower(trim(environment_name)) as match_value from runs
),

environments as (
    {{ classify_environments('environment_names') }}
),

mapped as (
    select
        runs.run_key,
        'northflank' as provider,
        runs.scope_key,
        runs.run_id,
        runs.run_name,
        runs.run_kind,
        {{ status_columns('status_map') }},
        runs.original_status,
        runs.is_concluded as provider_concluded,
        cast(null as {{ dbt.type_string() }}) as trigger_type,
        cast(null as {{ dbt.type_string() }}) as original_trigger,
        coalesce(runs.argument_sha, build_shas.build_sha) as commit_sha,
        case
            when runs.run_kind = 'release_flow' then coalesce(environments.environment, 'UNKNOWN')
            else 'UNKNOWN'
        end as environment,
        runs.environment_name as original_environment,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        runs.updated_at,
        false as source_stale,
        runs.run_kind = 'release_flow' as is_deployment,
        runs.is_deleted
    from runs
    left join {{ status_map('northflank', 'run') }} as status_map
        on {{ status_lookup('runs.original_status') }} = status_map.status_lookup
    left join build_shas
        on runs.run_key = build_shas.run_key
    left join environments
        on lower(trim(runs.environment_name)) = environments.name
),

shaped as (
    select *, coalesce(run_name, commit_sha, run_id) as version
    from mapped
)

{{ select_shape('runs', 'shaped') }}
