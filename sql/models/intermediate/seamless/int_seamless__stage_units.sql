{#- Seamless stages in the shared stage-unit shape (seven per run; stages that never ran stay IDLE =
    QUEUED), for runs that are loaded.
    - status/result: status_map (entity stage); stage_type: stage_type_rules on the stage type
    - environment: only a DEPLOY stage has one - its type (deploy_staging, deploy_prod) via
      environment_rules (UNKNOWN if none match)
    - order: the pipeline order (the matched stage_type rule's order); a DEPLOY stage is a deployment -#}
{{ config(materialized='view') }}

with runs as (
    select run_key, scope_key, run_id, is_deleted from {{ ref('int_seamless__runs') }}
),

stages as (
    select
        runs.run_key,
        {{ make_key(['runs.run_key', 'stages.stage_id']) }} as stage_key,
        runs.scope_key,
        stages.stage_id,
        stages.stage_kind,
        stages.original_status,
        stages.started_at,
        stages.finished_at,
        stages.deleted_at is not null or runs.is_deleted as is_deleted,
        {{ match_value('stages.stage_kind') }} as type_match_kind,
        {{ match_value('stages.stage_kind') }} as type_match_name,
        '' as type_match_group
    from {{ ref('stg_seamless__stages') }} as stages
    inner join runs
        on stages.run_id = runs.run_id
),

stage_types as (
    {{ classify_stage_types('seamless', 'stages') }}
),

environment_matches as (
    select lower(trim(stage_kind)) as match_value from stages
),

environments as (
    {{ classify_environments('environment_matches') }}
),

units as (
    select
        stages.run_key,
        stages.stage_key,
        'seamless' as provider,
        stages.scope_key,
        stages.stage_kind as stage_name,
        cast(null as {{ dbt.type_string() }}) as stage_group,
        stages.stage_kind as original_type,
        coalesce(stage_types.stage_type, 'OTHER') as stage_type,
        {{ status_columns('status_map') }},
        stages.original_status,
        case
            when stage_types.stage_type = 'DEPLOY' then coalesce(environments.environment, 'UNKNOWN')
            else 'UNKNOWN'
        end as environment,
        case when stage_types.stage_type = 'DEPLOY' then stages.stage_kind end as original_environment,
        stage_types.stage_type_rule_order as sort_index,
        stages.stage_id as sort_key,
        stages.started_at,
        stages.finished_at,
        'unit' as timing_source,
        coalesce(stage_types.stage_type = 'DEPLOY', false) as is_deployment,
        stages.is_deleted
    from stages
    left join stage_types
        on stages.type_match_kind = stage_types.type_match_kind
        and stages.type_match_name = stage_types.type_match_name
        and stages.type_match_group = stage_types.type_match_group
    left join {{ status_map('seamless', 'stage') }} as status_map
        on {{ status_lookup('stages.original_status') }} = status_map.status_lookup
    left join environments
        on lower(trim(stages.stage_kind)) = environments.name
)

{{ select_shape('stage_units', 'units') }}
