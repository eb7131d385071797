{#- GitHub scopes: each workflow of a repository that has runs (`{owner}/{repo}/{workflowId}`), and each
    repository's deployments made by other tools (`{owner}/{repo}/deployments`). A scope is named after
    its repository (without the owner), so a service built in GitHub Actions and deployed elsewhere is
    one service without a service_map entry when the names agree; deleted with its repository. -#}
{{ config(materialized='view') }}

with repositories as (
    select repository, repository_name, deleted_at is not null as is_deleted
    from {{ ref('stg_github__repositories') }}
),

paths as (
    select distinct
        'workflow' as scope_kind,
        repository,
        {{ make_key(['repository', 'workflow_id'], '/') }} as scope_path
    from {{ ref('stg_github__workflow_runs') }}
    union
    select distinct
        'service' as scope_kind,
        repository,
        {{ make_key(['repository', "'deployments'"], '/') }} as scope_path
    from {{ ref('stg_github__deployments') }}
),

scopes as (
    select
        {{ make_key(["'github'", 'paths.scope_path']) }} as scope_key,
        'github' as provider,
        paths.scope_kind,
        paths.scope_path,
        coalesce(repositories.repository_name, paths.repository) as scope_name,
        coalesce(repositories.is_deleted, false) as is_deleted
    from paths
    left join repositories
        on paths.repository = repositories.repository
)

{{ select_shape('scopes', 'scopes') }}
