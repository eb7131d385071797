{#- GoRules scopes: each project with deployment runs or environments, named after the project (from
    its environments), else its id. -#}
{{ config(materialized='view') }}

with projects as (
    select project_id, max(project_name) as project_name
    from (
        select project_id, project_name from {{ ref('stg_gorules__environments') }} where deleted_at is null
        union all
        select project_id, null from {{ ref('stg_gorules__deployment_runs') }}
    ) as named
    where project_id is not null
    group by project_id
),

scopes as (
    select
        {{ make_key(["'gorules'", 'project_id']) }} as scope_key,
        'gorules' as provider,
        'project' as scope_kind,
        project_id as scope_path,
        coalesce(project_name, project_id) as scope_name,
        -- no project records are loaded: a project is never deleted, only its runs
        false as is_deleted
    from projects
)

{{ select_shape('scopes', 'scopes') }}
