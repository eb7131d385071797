{#- Northflank spec-tree nodes of release-flow and workflow runs, keyed like their runs. Workflow and
    LoopWorkflow nodes are containers (they only sequence their steps) and are flagged, not counted as
    work; every other node is a unit of work. `Build` nodes carry the commit. A view: read by the
    runs (the Build nodes' commits) and the stage units (the rest). -#}
{{ config(materialized='view') }}

with release_flow_nodes as (
    select
        {{ make_key(["'northflank'", make_key(['project_id', 'pipeline_id', 'stage'], '/'), 'run_id']) }}
            as run_key,
        run_id,
        'release_flow' as run_kind,
        node_path,
        parent_path,
        depth,
        kind,
        ref,
        workflow_type,
        original_status,
        started_at,
        finished_at,
        attempts,
        error_message,
        spec_sha,
        deleted_at
    from {{ ref('stg_northflank__release_flow_run_nodes') }}
),

workflow_nodes as (
    select
        {{ make_key(["'northflank'", make_key(['project_id', "'workflows'", 'workflow_id'], '/'), 'run_id']) }}
            as run_key,
        run_id,
        'workflow' as run_kind,
        node_path,
        parent_path,
        depth,
        kind,
        ref,
        workflow_type,
        original_status,
        started_at,
        finished_at,
        attempts,
        error_message,
        spec_sha,
        deleted_at
    from {{ ref('stg_northflank__workflow_run_nodes') }}
),

nodes as (
    select * from release_flow_nodes
    union all
    select * from workflow_nodes
)

select
    run_key,
    {{ make_key(['run_key', 'node_path']) }} as stage_key,
    run_id,
    run_kind,
    node_path,
    parent_path,
    depth,
    kind,
    ref,
    coalesce(ref, kind) as node_name,
    workflow_type,
    lower(kind) in ('workflow', 'loopworkflow') as is_container,
    original_status,
    started_at,
    finished_at,
    attempts,
    error_message,
    case when lower(kind) = 'build' then spec_sha end as build_sha,
    deleted_at is not null as is_deleted
from nodes
