{#- Northflank units of work in the shared stage-unit shape: every spec node that is not a
    Workflow/LoopWorkflow container, of runs that are loaded.
    - status/result: status_map (entity node; a node without a response has not run: `(missing)`)
    - stage_type: stage_type_rules on the node's kind, then its name (ref, else kind)
    - environment: the run's (a node runs where its release flow runs)
    - order: the node path; no node is a deployment of its own (the release-flow run is) -#}
{{ config(materialized='view') }}

with runs as (
    select run_key, scope_key, environment, is_deleted from {{ ref('int_northflank__runs') }}
),

nodes as (
    select
        nodes.run_key,
        nodes.stage_key,
        runs.scope_key,
        runs.environment,
        nodes.node_name as stage_name,
        nodes.kind as original_type,
        nodes.original_status,
        nodes.node_path,
        nodes.started_at,
        nodes.finished_at,
        nodes.is_deleted or runs.is_deleted as is_deleted,
        {{ match_value('nodes.kind') }} as type_match_kind,
        {{ match_value('nodes.node_name') }} as type_match_name,
        '' as type_match_group
    from {{ ref('int_northflank__nodes') }} as nodes
    inner join runs
        on nodes.run_key = runs.run_key
    where not nodes.is_container
),

stage_types as (
    {{ classify_stage_types('northflank', 'nodes') }}
),

units as (
    select
        nodes.run_key,
        nodes.stage_key,
        'northflank' as provider,
        nodes.scope_key,
        nodes.stage_name,
        cast(null as {{ dbt.type_string() }}) as stage_group,
        nodes.original_type,
        coalesce(stage_types.stage_type, 'OTHER') as stage_type,
        {{ status_columns('status_map') }},
        nodes.original_status,
        nodes.environment,
        cast(null as {{ dbt.type_string() }}) as original_environment,
        cast(null as bigint) as sort_index,
        nodes.node_path as sort_key,
        nodes.started_at,
        nodes.finished_at,
        'unit' as timing_source,
        false as is_deployment,
        nodes.is_deleted
    from nodes
    left join stage_types
        on nodes.type_match_kind = stage_types.type_match_kind
        and nodes.type_match_name = stage_types.type_match_name
        and nodes.type_match_group = stage_types.type_match_group
    left join {{ status_map('northflank', 'node') }} as status_map
        on {{ status_lookup('nodes.original_status') }} = status_map.status_lookup
)

{{ select_shape('stage_units', 'units') }}
