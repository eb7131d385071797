{#- GitHub Actions in the shared run shape (macros/shapes.sql).
    - a workflow run attempt is a run (a re-run keeps the run id: run_id `{runId}/{attempt}`); scope:
      `{owner}/{repo}/{workflowId}`; name: its display title
    - status/result: status_map (entity run) on the conclusion once completed, else the status
    - trigger: the event via trigger_type_map; commit: head_sha; environment UNKNOWN (its deploy jobs
      have theirs, and are its deployments)
    - times: created = the run's creation for the first attempt, the re-run's start for a later one;
      started/finished = the attempt's first job start and last job end (GitHub gives a run no end
      time; `updated_at` moves after the end), else run_started_at / updated_at
    - a deployment whose workflow job is not loaded (made by another tool) is a run of its own
      (`{owner}/{repo}/deployments`, id `{deploymentId}`), of its environment, via status_map entity
      deployment; its newest status other than `inactive` decides
    - deleted: the run (or deployment), or its repository, is gone -#}
with repositories as (
    select repository, deleted_at is not null as is_deleted from {{ ref('stg_github__repositories') }}
),

jobs as (
    select
        repository,
        run_id,
        run_attempt,
        min(case when lower(original_status) not in ('queued', 'waiting', 'skipped') then started_at end)
            as first_started_at,
        max(completed_at) as last_completed_at
    from {{ ref('stg_github__workflow_jobs') }}
    where deleted_at is null
    group by repository, run_id, run_attempt
),

attempts as (
    select
        {{ make_key(["'github'", make_key(['runs.repository', 'runs.workflow_id'], '/')]) }} as scope_key,
        {{ make_key(['runs.run_id', 'runs.run_attempt'], '/') }} as run_id,
        coalesce(runs.display_title, runs.workflow_name) as run_name,
        'workflow_run' as run_kind,
        runs.original_status,
        lower(runs.status) = 'completed' as provider_concluded,
        runs.event as original_trigger,
        runs.commit_sha,
        cast(null as {{ dbt.type_string() }}) as environment_name,
        case when runs.run_attempt > 1 then coalesce(runs.run_started_at, runs.created_at) else runs.created_at end
            as created_at,
        coalesce(jobs.first_started_at, runs.run_started_at) as started_at,
        case
            when lower(runs.status) = 'completed' then coalesce(jobs.last_completed_at, runs.updated_at)
        end as finished_at,
        runs.updated_at,
        'run' as status_entity,
        false as is_deployment,
        runs.deleted_at is not null or coalesce(repositories.is_deleted, false) as is_deleted
    from {{ ref('stg_github__workflow_runs') }} as runs
    left join jobs
        on runs.repository = jobs.repository
        and runs.run_id = jobs.run_id
        and runs.run_attempt = jobs.run_attempt
    left join repositories
        on runs.repository = repositories.repository
),

loaded_jobs as (
    select {{ make_key(['repository', 'job_id']) }} as job_key
    from {{ ref('stg_github__workflow_jobs') }}
),

own_deployments as (
    select
        {{ make_key(["'github'", make_key(['deployments.repository', "'deployments'"], '/')]) }} as scope_key,
        cast(deployments.deployment_id as {{ dbt.type_string() }}) as run_id,
        deployments.environment_name as run_name,
        'deployment' as run_kind,
        deployments.original_status,
        lower(deployments.original_status) in ('success', 'failure', 'error') as provider_concluded,
        cast(null as {{ dbt.type_string() }}) as original_trigger,
        deployments.commit_sha,
        deployments.environment_name,
        deployments.created_at,
        deployments.started_at,
        deployments.finished_at,
        deployments.updated_at,
        'deployment' as status_entity,
        true as is_deployment,
        deployments.is_deleted or coalesce(repositories.is_deleted, false) as is_deleted
    from {{ ref('int_github__deployments') }} as deployments
    left join repositories
        on deployments.repository = repositories.repository
    where deployments.job_key is null
        or deployments.job_key not in (select job_key from loaded_jobs)
),

runs as (
    select {{ make_key(['scope_key', 'run_id']) }} as run_key, *
    from (
        select * from attempts
        union all
        select * from own_deployments
    ) as unioned
),

environment_names as (
    select distinct lower(trim(environment_name)) as match_value from runs
),

environments as (
    {{ classify_environments('environment_names') }}
),

statuses as (
    select 'run' as status_entity, status_lookup, status, result from {{ status_map('github', 'run') }} as m
    union all
    select 'deployment', status_lookup, status, result from {{ status_map('github', 'deployment') }} as m
),

mapped as (
    select
        runs.run_key,
        'github' as provider,
        runs.scope_key,
        runs.run_id,
        runs.run_name,
        runs.run_kind,
        {{ status_columns('status_map') }},
        runs.original_status,
        runs.provider_concluded,
        {{ trigger_type_column('runs.original_trigger', 'trigger_map') }} as trigger_type,
        runs.original_trigger,
        runs.commit_sha,
        case when runs.is_deployment then coalesce(environments.environment, 'UNKNOWN') else 'UNKNOWN' end
            as environment,
        runs.environment_name as original_environment,
        runs.created_at,
        runs.started_at,
        runs.finished_at,
        runs.updated_at,
        false as source_stale,
        runs.is_deployment,
        runs.is_deleted
    from runs
    left join statuses as status_map
        on runs.status_entity = status_map.status_entity
        and {{ status_lookup('runs.original_status') }} = status_map.status_lookup
    left join {{ trigger_type_map('github') }} as trigger_map
        on lower(runs.original_trigger) = trigger_map.trigger_lookup
    left join environments
        on lower(trim(runs.environment_name)) = environments.name
),

shaped as (
    select *, coalesce(commit_sha, run_name, run_id) as version
    from mapped
)

{{ select_shape('runs', 'shaped') }}
