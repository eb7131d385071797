{#- Runs of every provider in one shape, keyed per contract §4, with status/result from the status_map
    seed (unknown values: OTHER, result NULL), trigger types from trigger_type_map and environments
    from environment_rules. -#}
with northflank_build_shas as (
    select run_key, min(build_sha) as build_sha
    from {{ ref('int_northflank_nodes__classified') }}
    where build_sha is not null
    group by run_key
),

northflank_release_flow_runs as (
    select
        'northflank' as provider,
        'northflank:' || project_id || '/' || pipeline_id || '/' || stage as scope_key,
        run_id,
        run_name,
        'release_flow' as run_kind,
        original_status,
        is_concluded,
        cast(null as {{ dbt.type_string() }}) as original_trigger,
        argument_sha as commit_sha,
        stage as environment_name,
        created_at,
        started_at,
        finished_at,
        updated_at,
        false as is_stale
    from {{ ref('stg_northflank__release_flow_runs') }}
),

northflank_workflow_runs as (
    select
        'northflank' as provider,
        'northflank:' || project_id || '/workflows/' || workflow_id as scope_key,
        run_id,
        run_name,
        'workflow' as run_kind,
        original_status,
        is_concluded,
        cast(null as {{ dbt.type_string() }}) as original_trigger,
        argument_sha as commit_sha,
        cast(null as {{ dbt.type_string() }}) as environment_name,
        created_at,
        started_at,
        finished_at,
        updated_at,
        false as is_stale
    from {{ ref('stg_northflank__workflow_runs') }}
),

gorules_runs as (
    select
        'gorules' as provider,
        'gorules:' || project_id as scope_key,
        run_id,
        run_name,
        'deployment' as run_kind,
        original_status,
        cast(null as boolean) as is_concluded,
        cast(null as {{ dbt.type_string() }}) as original_trigger,
        cast(null as {{ dbt.type_string() }}) as commit_sha,
        cast(null as {{ dbt.type_string() }}) as environment_name,
        created_at,
        started_at,
        finished_at,
        cast(null as timestamp) as updated_at,
        false as is_stale
    from {{ ref('stg_gorules__deployment_runs') }}
),

yunxiao_runs as (
    select
        'yunxiao' as provider,
        'yunxiao:' || organization_id || '/' || cast(pipeline_id as {{ dbt.type_string() }}) as scope_key,
        cast(pipeline_run_id as {{ dbt.type_string() }}) as run_id,
        cast(pipeline_run_id as {{ dbt.type_string() }}) as run_name,
        'pipeline' as run_kind,
        original_status,
        cast(null as boolean) as is_concluded,
        cast(trigger_mode as {{ dbt.type_string() }}) as original_trigger,
        commit_sha,
        cast(null as {{ dbt.type_string() }}) as environment_name,
        created_at,
        started_at,
        finished_at,
        updated_at,
        false as is_stale
    from {{ ref('stg_yunxiao__pipeline_runs') }}
),

seamless_runs as (
    select
        'seamless' as provider,
        'seamless:' || service_id as scope_key,
        run_id,
        coalesce(commit_message, run_id) as run_name,
        'pipeline' as run_kind,
        original_status,
        cast(null as boolean) as is_concluded,
        trigger_type as original_trigger,
        commit_sha,
        cast(null as {{ dbt.type_string() }}) as environment_name,
        created_at,
        started_at,
        finished_at,
        updated_at,
        is_stale
    from {{ ref('stg_seamless__runs') }}
),

unioned as (
    select * from northflank_release_flow_runs
    union all
    select * from northflank_workflow_runs
    union all
    select * from gorules_runs
    union all
    select * from yunxiao_runs
    union all
    select * from seamless_runs
),

status_map as (
    select provider, lower(original_status) as original_status, status, result
    from {{ ref('status_map') }}
    where entity = 'run'
),

trigger_map as (
    select provider, lower(original_trigger) as original_trigger, trigger_type
    from {{ ref('trigger_type_map') }}
),

environments as (
    select name, environment from {{ ref('int_environment_names__classified') }}
),

keyed as (
    select
        unioned.scope_key || ':' || unioned.run_id as run_key,
        unioned.provider,
        unioned.scope_key,
        unioned.run_id,
        unioned.run_name,
        unioned.run_kind,
        coalesce(status_map.status, 'OTHER') as status,
        case when status_map.status = 'DONE' then status_map.result end as result,
        unioned.original_status,
        status_map.status is null as is_status_unmapped,
        unioned.is_concluded as provider_concluded,
        case
            when unioned.original_trigger is null then null
            else coalesce(trigger_map.trigger_type, 'OTHER')
        end as trigger_type,
        unioned.original_trigger,
        coalesce(unioned.commit_sha, northflank_build_shas.build_sha) as commit_sha,
        case
            when unioned.run_kind = 'release_flow' then coalesce(environments.environment, 'UNKNOWN')
            when unioned.run_kind = 'workflow' then 'UNKNOWN'
        end as environment,
        unioned.environment_name as original_environment,
        unioned.created_at,
        unioned.started_at,
        unioned.finished_at,
        unioned.updated_at,
        unioned.is_stale
    from unioned
    left join status_map
        on unioned.provider = status_map.provider
        and lower(coalesce(unioned.original_status, '(missing)')) = status_map.original_status
    left join trigger_map
        on unioned.provider = trigger_map.provider
        and lower(unioned.original_trigger) = trigger_map.original_trigger
    left join environments
        on lower(trim(unioned.environment_name)) = environments.name
    left join northflank_build_shas
        on unioned.provider = 'northflank'
        and unioned.scope_key || ':' || unioned.run_id = northflank_build_shas.run_key
)

select
    *,
    coalesce(provider_concluded, status = 'DONE') as is_concluded,
    {{ duration_sec('started_at', 'finished_at') }} as duration_sec,
    {{ duration_sec('created_at', 'started_at') }} as queue_sec
from keyed
