{#- One row per scope (the unit a run belongs to), with its display name and its service: the
    service_map seed's entry (longest matching scope_key prefix) else the scope's own name. -#}
with northflank_release_flows as (
    select distinct
        'northflank' as provider,
        'release_flow' as scope_kind,
        runs.project_id || '/' || runs.pipeline_id || '/' || runs.stage as scope_path,
        coalesce(pipelines.pipeline_name, runs.pipeline_id) as scope_name
    from {{ ref('stg_northflank__release_flow_runs') }} as runs
    left join {{ ref('stg_northflank__pipelines') }} as pipelines
        on runs.project_id = pipelines.project_id and runs.pipeline_id = pipelines.pipeline_id
),

northflank_workflows as (
    select
        'northflank' as provider,
        'workflow' as scope_kind,
        project_id || '/workflows/' || workflow_id as scope_path,
        max(workflow_name) as scope_name
    from (
        select project_id, workflow_id, workflow_name from {{ ref('stg_northflank__workflows') }}
        union all
        select project_id, workflow_id, null from {{ ref('stg_northflank__workflow_runs') }}
    ) as workflows
    group by project_id, workflow_id
),

gorules_projects as (
    select
        'gorules' as provider,
        'project' as scope_kind,
        project_id as scope_path,
        coalesce(max(project_name), project_id) as scope_name
    from (
        select project_id, project_name from {{ ref('stg_gorules__environments') }}
        union all
        select project_id, null from {{ ref('stg_gorules__deployment_runs') }}
    ) as projects
    where project_id is not null
    group by project_id
),

yunxiao_pipelines as (
    select
        'yunxiao' as provider,
        'pipeline' as scope_kind,
        organization_id || '/' || cast(pipeline_id as {{ dbt.type_string() }}) as scope_path,
        coalesce(max(pipeline_name), cast(pipeline_id as {{ dbt.type_string() }})) as scope_name
    from (
        select organization_id, pipeline_id, pipeline_name from {{ ref('stg_yunxiao__pipelines') }}
        union all
        select organization_id, pipeline_id, null from {{ ref('stg_yunxiao__pipeline_runs') }}
    ) as pipelines
    group by organization_id, pipeline_id
),

seamless_services as (
    select
        'seamless' as provider,
        'service' as scope_kind,
        service_id as scope_path,
        coalesce(max(service_name), service_id) as scope_name
    from (
        select service_id, service_name from {{ ref('stg_seamless__services') }}
        union all
        select service_id, null from {{ ref('stg_seamless__runs') }}
    ) as services
    where service_id is not null
    group by service_id
),

scopes as (
    select * from northflank_release_flows
    union all
    select * from northflank_workflows
    union all
    select * from gorules_projects
    union all
    select * from yunxiao_pipelines
    union all
    select * from seamless_services
),

keyed as (
    select
        provider || ':' || scope_path as scope_key,
        provider,
        scope_kind,
        scope_path,
        scope_name
    from scopes
),

service_matches as (
    select
        keyed.scope_key,
        service_map.service,
        row_number() over (
            partition by keyed.scope_key order by length(service_map.scope_key) desc
        ) as match_rank
    from keyed
    inner join {{ ref('service_map') }} as service_map
        on keyed.scope_key = service_map.scope_key
        or keyed.scope_key like service_map.scope_key || '/%'
)

select
    keyed.scope_key,
    keyed.provider,
    keyed.scope_kind,
    keyed.scope_path,
    keyed.scope_name,
    coalesce(service_matches.service, keyed.scope_name) as service,
    service_matches.service is not null as is_service_mapped
from keyed
left join service_matches
    on keyed.scope_key = service_matches.scope_key and service_matches.match_rank = 1
