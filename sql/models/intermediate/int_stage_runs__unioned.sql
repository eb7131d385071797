{{ config(materialized='view') }}

{#- The units that do work, in one shape: Northflank spec nodes other than Workflow containers, GoRules
    jobs, Yunxiao jobs (and Yunxiao stages that have no jobs), Seamless stages. Status/result from the
    status_map seed; `original_type`, `stage_name` and `stage_group` feed the stage_type_rules. -#}
with runs as (
    select run_key, scope_key, environment, finished_at
    from {{ ref('int_pipeline_runs__unioned') }}
),

northflank_nodes as (
    select
        nodes.run_key,
        nodes.stage_key,
        'northflank' as provider,
        'node' as status_entity,
        nodes.node_name as stage_name,
        cast(null as {{ dbt.type_string() }}) as stage_group,
        nodes.kind as original_type,
        nodes.original_status,
        nodes.original_status as status_lookup,
        cast(null as {{ dbt.type_string() }}) as environment_name,
        nodes.node_path as sort_key,
        cast(null as bigint) as sort_index,
        nodes.started_at,
        nodes.finished_at
    from {{ ref('int_northflank_nodes__classified') }} as nodes
    where not nodes.is_container
),

gorules_environment_names as (
    select environment_id, environment_key, environment_name
    from {{ ref('stg_gorules__environments') }}
),

gorules_jobs as (
    select
        'gorules:' || jobs.project_id || ':' || jobs.run_id as run_key,
        'gorules:' || jobs.project_id || ':' || jobs.run_id || ':' || jobs.job_id as stage_key,
        'gorules' as provider,
        'job' as status_entity,
        coalesce(
            jobs.environment_name, environments.environment_name,
            jobs.environment_key, environments.environment_key, jobs.environment_id
        ) as stage_name,
        cast(null as {{ dbt.type_string() }}) as stage_group,
        'deployment_job' as original_type,
        jobs.original_status,
        jobs.status_lookup,
        coalesce(jobs.environment_key, environments.environment_key) as environment_name,
        coalesce(jobs.environment_name, environments.environment_name) as environment_alt_name,
        cast(jobs.job_order as {{ dbt.type_string() }}) as sort_key,
        jobs.job_order as sort_index,
        -- GoRules reports no job start/finish: a job starts when it is created and is over when its
        -- run completes (docs/metrics.md; the run's finish is joined below)
        jobs.created_at as started_at,
        cast(null as timestamp) as finished_at
    from {{ ref('stg_gorules__deployment_jobs') }} as jobs
    left join gorules_environment_names as environments
        on jobs.environment_id = environments.environment_id
),

yunxiao_jobs as (
    select
        'yunxiao:' || organization_id || '/' || cast(pipeline_id as {{ dbt.type_string() }})
            || ':' || cast(pipeline_run_id as {{ dbt.type_string() }}) as run_key,
        'yunxiao:' || organization_id || '/' || cast(pipeline_id as {{ dbt.type_string() }})
            || ':' || cast(pipeline_run_id as {{ dbt.type_string() }})
            || ':' || cast(job_id as {{ dbt.type_string() }}) as stage_key,
        'yunxiao' as provider,
        'job' as status_entity,
        job_name as stage_name,
        stage_name as stage_group,
        job_sign as original_type,
        original_status,
        original_status as status_lookup,
        stage_index,
        started_at,
        finished_at
    from {{ ref('stg_yunxiao__pipeline_run_jobs') }}
),

yunxiao_stages_without_jobs as (
    select
        'yunxiao:' || stages.organization_id || '/' || cast(stages.pipeline_id as {{ dbt.type_string() }})
            || ':' || cast(stages.pipeline_run_id as {{ dbt.type_string() }}) as run_key,
        'yunxiao:' || stages.organization_id || '/' || cast(stages.pipeline_id as {{ dbt.type_string() }})
            || ':' || cast(stages.pipeline_run_id as {{ dbt.type_string() }})
            || ':stage-' || cast(stages.stage_index as {{ dbt.type_string() }}) as stage_key,
        'yunxiao' as provider,
        'stage' as status_entity,
        stages.stage_name,
        stages.stage_name as stage_group,
        cast(null as {{ dbt.type_string() }}) as original_type,
        stages.original_status,
        stages.original_status as status_lookup,
        stages.stage_index,
        stages.started_at,
        stages.finished_at
    from {{ ref('stg_yunxiao__pipeline_run_stages') }} as stages
    left join {{ ref('stg_yunxiao__pipeline_run_jobs') }} as jobs
        on stages.organization_id = jobs.organization_id
        and stages.pipeline_id = jobs.pipeline_id
        and stages.pipeline_run_id = jobs.pipeline_run_id
        and stages.stage_index = jobs.stage_index
    where jobs.job_id is null
),

yunxiao_units as (
    select * from yunxiao_jobs
    union all
    select * from yunxiao_stages_without_jobs
),

seamless_stages as (
    select
        'seamless:' || runs.service_id || ':' || stages.run_id as run_key,
        'seamless:' || runs.service_id || ':' || stages.run_id || ':' || stages.stage_id as stage_key,
        'seamless' as provider,
        'stage' as status_entity,
        stages.stage_kind as stage_name,
        cast(null as {{ dbt.type_string() }}) as stage_group,
        stages.stage_kind as original_type,
        stages.original_status,
        stages.original_status as status_lookup,
        stages.stage_kind as environment_name,
        stages.stage_id as sort_key,
        stages.started_at,
        stages.finished_at
    from {{ ref('stg_seamless__stages') }} as stages
    inner join {{ ref('stg_seamless__runs') }} as runs
        on stages.run_id = runs.run_id
),

unioned as (
    select
        run_key, stage_key, provider, status_entity, stage_name, stage_group, original_type,
        original_status, status_lookup,
        environment_name, cast(null as {{ dbt.type_string() }}) as environment_alt_name,
        sort_key, cast(sort_index as bigint) as sort_index, started_at, finished_at
    from northflank_nodes
    union all
    select
        run_key, stage_key, provider, status_entity, stage_name, stage_group, original_type,
        original_status, status_lookup,
        environment_name, environment_alt_name,
        sort_key, cast(sort_index as bigint), started_at, finished_at
    from gorules_jobs
    union all
    select
        run_key, stage_key, provider, status_entity, stage_name, stage_group, original_type,
        original_status, status_lookup,
        stage_name, stage_group,
        stage_key, cast(stage_index as bigint), started_at, finished_at
    from yunxiao_units
    union all
    select
        run_key, stage_key, provider, status_entity, stage_name, stage_group, original_type,
        original_status, status_lookup,
        environment_name, cast(null as {{ dbt.type_string() }}),
        sort_key, cast(null as bigint), started_at, finished_at
    from seamless_stages
),

status_map as (
    select provider, entity, lower(original_status) as original_status, status, result
    from {{ ref('status_map') }}
)

select
    unioned.run_key,
    unioned.stage_key,
    unioned.provider,
    runs.scope_key,
    unioned.stage_name,
    unioned.stage_group,
    unioned.original_type,
    coalesce(status_map.status, 'OTHER') as status,
    case when status_map.status = 'DONE' then status_map.result end as result,
    unioned.original_status,
    status_map.status is null as is_status_unmapped,
    unioned.environment_name,
    unioned.environment_alt_name,
    -- a Northflank node runs in its run's environment
    case when unioned.provider = 'northflank' then runs.environment end as inherited_environment,
    -- the stage_type_rules and environment_rules match on these, normalized once here rather than
    -- in each join over the ~1 M units
    coalesce(lower(trim(unioned.original_type)), '') as type_match_kind,
    coalesce(lower(trim(unioned.stage_name)), '') as type_match_name,
    coalesce(lower(trim(unioned.stage_group)), '') as type_match_group,
    lower(trim(unioned.environment_name)) as environment_match_name,
    lower(trim(unioned.environment_alt_name)) as environment_match_alt_name,
    unioned.sort_key,
    unioned.sort_index,
    unioned.started_at,
    -- a GoRules job's finish is its run's completion, and only once the job itself is over
    case
        when unioned.provider <> 'gorules' then unioned.finished_at
        when coalesce(status_map.status, 'OTHER') = 'DONE' then runs.finished_at
    end as finished_at
from unioned
-- units of runs that are not in int_pipeline_runs__unioned are dropped (no run to belong to)
inner join runs
    on unioned.run_key = runs.run_key
left join status_map
    on unioned.provider = status_map.provider
    and unioned.status_entity = status_map.entity
    and lower(coalesce(unioned.status_lookup, '(missing)')) = status_map.original_status
