{#- Yunxiao units of work in the shared stage-unit shape: every job (its stage's name kept as
    stage_group), and every stage that has no jobs (key `stage-{index}`), for runs that are loaded.
    - status/result: status_map (entity job / stage)
    - stage_type: stage_type_rules on the job sign, then the job name, then the stage name
    - environment: only a DEPLOY unit has one - its name, then its stage's name, via environment_rules
      (UNKNOWN if none match)
    - order: the stage index; a DEPLOY unit is a deployment -#}
{{ config(materialized='view') }}

with runs as (
    select run_key, scope_key, is_deleted from {{ ref('int_yunxiao__runs') }}
),

jobs as (
    select
        organization_id,
        pipeline_id,
        pipeline_run_id,
        cast(job_id as {{ dbt.type_string() }}) as unit_id,
        'job' as status_entity,
        job_name as stage_name,
        stage_name as stage_group,
        job_sign as original_type,
        original_status,
        stage_index,
        started_at,
        finished_at,
        deleted_at
    from {{ ref('stg_yunxiao__pipeline_run_jobs') }}
),

stages_without_jobs as (
    select
        stages.organization_id,
        stages.pipeline_id,
        stages.pipeline_run_id,
        'stage-' || cast(stages.stage_index as {{ dbt.type_string() }}) as unit_id,
        'stage' as status_entity,
        stages.stage_name,
        stages.stage_name as stage_group,
        cast(null as {{ dbt.type_string() }}) as original_type,
        stages.original_status,
        stages.stage_index,
        stages.started_at,
        stages.finished_at,
        stages.deleted_at
    from {{ ref('stg_yunxiao__pipeline_run_stages') }} as stages
    left join {{ ref('stg_yunxiao__pipeline_run_jobs') }} as jobs
        on stages.organization_id = jobs.organization_id
        and stages.pipeline_id = jobs.pipeline_id
        and stages.pipeline_run_id = jobs.pipeline_run_id
        and stages.stage_index = jobs.stage_index
    where jobs.job_id is null
),

unit_rows as (
    select * from jobs
    union all
    select * from stages_without_jobs
),

keyed as (
    select
        runs.run_key,
        {{ make_key(['runs.run_key', 'unit_rows.unit_id']) }} as stage_key,
        runs.scope_key,
        unit_rows.deleted_at is not null or runs.is_deleted as is_deleted,
        unit_rows.*,
        {{ match_value('unit_rows.original_type') }} as type_match_kind,
        {{ match_value('unit_rows.stage_name') }} as type_match_name,
        {{ match_value('unit_rows.stage_group') }} as type_match_group
    from unit_rows
    inner join runs
        on {{ make_key(["'yunxiao'", make_key(['unit_rows.organization_id', 'unit_rows.pipeline_id'], '/'),
                        'unit_rows.pipeline_run_id']) }} = runs.run_key
),

stage_types as (
    {{ classify_stage_types('yunxiao', 'keyed') }}
),

environment_matches as (
    select lower(trim(stage_name)) as match_value from keyed
    union
    select lower(trim(stage_group)) from keyed
),

environments as (
    {{ classify_environments('environment_matches') }}
),

classified as (
    select
        keyed.*,
        coalesce(stage_types.stage_type, 'OTHER') as stage_type,
        by_name.environment as name_environment,
        by_group.environment as group_environment
    from keyed
    left join stage_types
        on keyed.type_match_kind = stage_types.type_match_kind
        and keyed.type_match_name = stage_types.type_match_name
        and keyed.type_match_group = stage_types.type_match_group
    left join environments as by_name
        on lower(trim(keyed.stage_name)) = by_name.name
    left join environments as by_group
        on lower(trim(keyed.stage_group)) = by_group.name
),

units as (
    select
        classified.run_key,
        classified.stage_key,
        'yunxiao' as provider,
        classified.scope_key,
        classified.stage_name,
        classified.stage_group,
        classified.original_type,
        classified.stage_type,
        {{ status_columns('status_map') }},
        classified.original_status,
        case
            when classified.stage_type = 'DEPLOY'
                then coalesce(classified.name_environment, classified.group_environment, 'UNKNOWN')
            else 'UNKNOWN'
        end as environment,
        case
            when classified.stage_type = 'DEPLOY' then coalesce(classified.stage_name, classified.stage_group)
        end as original_environment,
        cast(classified.stage_index as bigint) as sort_index,
        classified.stage_key as sort_key,
        classified.started_at,
        classified.finished_at,
        'unit' as timing_source,
        classified.stage_type = 'DEPLOY' as is_deployment,
        classified.is_deleted
    from classified
    left join (
        select 'job' as status_entity, * from {{ status_map('yunxiao', 'job') }} as job_statuses
        union all
        select 'stage', * from {{ status_map('yunxiao', 'stage') }} as stage_statuses
    ) as status_map
        on classified.status_entity = status_map.status_entity
        and {{ status_lookup('classified.original_status') }} = status_map.status_lookup
)

{{ select_shape('stage_units', 'units') }}
