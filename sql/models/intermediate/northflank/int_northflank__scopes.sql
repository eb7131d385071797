{#- Northflank scopes: each pipeline stage that has release-flow runs (named after its pipeline) and
    each workflow (named after itself); deleted when its pipeline / workflow record is. -#}
{{ config(materialized='view') }}

with release_flows as (
    select distinct
        'release_flow' as scope_kind,
        {{ make_key(['runs.project_id', 'runs.pipeline_id', 'runs.stage'], '/') }} as scope_path,
        coalesce(pipelines.pipeline_name, runs.pipeline_id) as scope_name,
        pipelines.deleted_at is not null as is_deleted
    from {{ ref('stg_northflank__release_flow_runs') }} as runs
    left join {{ ref('stg_northflank__pipelines') }} as pipelines
        on runs.project_id = pipelines.project_id and runs.pipeline_id = pipelines.pipeline_id
),

workflows as (
    select
        'workflow' as scope_kind,
        {{ make_key(['project_id', "'workflows'", 'workflow_id'], '/') }} as scope_path,
        max(workflow_name) as scope_name,
        max(case when is_deleted then 1 else 0 end) = 1 as is_deleted
    from (
        select project_id, workflow_id, workflow_name, deleted_at is not null as is_deleted
        from {{ ref('stg_northflank__workflows') }}
        union all
        select project_id, workflow_id, null, false from {{ ref('stg_northflank__workflow_runs') }}
    ) as named
    group by project_id, workflow_id
),

scopes as (
    select
        {{ make_key(["'northflank'", 'scope_path']) }} as scope_key,
        'northflank' as provider,
        scope_kind,
        scope_path,
        scope_name,
        is_deleted
    from (
        select * from release_flows
        union all
        select * from workflows
    ) as unioned
)

{{ select_shape('scopes', 'scopes') }}
