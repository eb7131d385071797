{#- GitHub Actions jobs (of every attempt) in the shared stage-unit shape, for runs that are loaded.
    - status/result: status_map (entity job) on the conclusion once completed, else the status
    - a job that ran a deployment (its deployment's statuses name the job) is that deployment: its
      environment is the deployment's (environment_rules), its type `deployment`; other jobs are typed
      by stage_type_rules on their name, grouped by their workflow, and run where their run does
    - times: the job's own (a job still queued or waiting has not started) -#}
{{ config(materialized='view') }}

with runs as (
    select run_key, scope_key, environment, is_deleted from {{ ref('int_github__runs') }}
    where run_kind = 'workflow_run'
),

attempt_keys as (
    select
        repository,
        run_id,
        run_attempt,
        {{ make_key([
            "'github'",
            make_key(['repository', 'workflow_id'], '/'),
            make_key(['run_id', 'run_attempt'], '/'),
        ]) }} as run_key
    from {{ ref('stg_github__workflow_runs') }}
),

deployments as (
    select job_key, environment_name, is_deleted
    from {{ ref('int_github__deployments') }}
    where job_key is not null
),

jobs as (
    select
        attempt_keys.run_key,
        {{ make_key(['attempt_keys.run_key', 'jobs.job_id']) }} as stage_key,
        runs.scope_key,
        runs.environment as run_environment,
        jobs.job_name as stage_name,
        jobs.workflow_name as stage_group,
        case when deployments.job_key is not null then 'deployment' else 'job' end as original_type,
        jobs.original_status,
        deployments.environment_name,
        jobs.started_at,
        jobs.completed_at,
        jobs.job_id,
        jobs.deleted_at is not null or runs.is_deleted or coalesce(deployments.is_deleted, false)
            as is_deleted
    from {{ ref('stg_github__workflow_jobs') }} as jobs
    inner join attempt_keys
        on jobs.repository = attempt_keys.repository
        and jobs.run_id = attempt_keys.run_id
        and jobs.run_attempt = attempt_keys.run_attempt
    inner join runs
        on attempt_keys.run_key = runs.run_key
    left join deployments
        on {{ make_key(['jobs.repository', 'jobs.job_id']) }} = deployments.job_key
),

typed as (
    select
        *,
        {{ match_value('original_type') }} as type_match_kind,
        {{ match_value('stage_name') }} as type_match_name,
        {{ match_value('stage_group') }} as type_match_group
    from jobs
),

stage_types as (
    {{ classify_stage_types('github', 'typed') }}
),

environment_names as (
    select distinct lower(trim(environment_name)) as match_value from jobs
),

environments as (
    {{ classify_environments('environment_names') }}
),

units as (
    select
        typed.run_key,
        typed.stage_key,
        'github' as provider,
        typed.scope_key,
        typed.stage_name,
        typed.stage_group,
        typed.original_type,
        coalesce(stage_types.stage_type, 'OTHER') as stage_type,
        {{ status_columns('status_map') }},
        typed.original_status,
        case
            when typed.original_type = 'deployment' then coalesce(environments.environment, 'UNKNOWN')
            else typed.run_environment
        end as environment,
        typed.environment_name as original_environment,
        row_number() over (partition by typed.run_key order by typed.started_at, typed.job_id) as sort_index,
        cast(typed.job_id as {{ dbt.type_string() }}) as sort_key,
        case when lower(typed.original_status) not in ('queued', 'waiting') then typed.started_at end
            as started_at,
        typed.completed_at as finished_at,
        'unit' as timing_source,
        typed.original_type = 'deployment' as is_deployment,
        typed.is_deleted
    from typed
    left join stage_types
        on typed.type_match_kind = stage_types.type_match_kind
        and typed.type_match_name = stage_types.type_match_name
        and typed.type_match_group = stage_types.type_match_group
    left join {{ status_map('github', 'job') }} as status_map
        on {{ status_lookup('typed.original_status') }} = status_map.status_lookup
    left join environments
        on lower(trim(typed.environment_name)) = environments.name
)

{{ select_shape('stage_units', 'units') }}
