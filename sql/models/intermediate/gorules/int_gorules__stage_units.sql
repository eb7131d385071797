{#- GoRules jobs (one per target environment) in the shared stage-unit shape, for runs that are loaded.
    - status/result: status_map (entity job); a job rejected in review looks up `review:rejected`
    - name: the job's environment name (else key, else id); type: stage_type_rules (every job DEPLOYs)
    - environment: the environment's key, then its name, via environment_rules; UNKNOWN if none match
    - times: the API reports none per job - a job starts when it is created and is over when its run
      completes (only once the job itself is DONE); its review wait is inside that span. So its times
      are its run's (timing_source = run) and stage-time measures leave it out: the run's time counts
      once, in the run's own measures
    - order: the job order; every job is a deployment -#}
{{ config(materialized='view') }}

with runs as (
    select run_key, scope_key, finished_at, is_deleted from {{ ref('int_gorules__runs') }}
),

environment_names as (
    select environment_id, environment_key, environment_name
    from {{ ref('stg_gorules__environments') }}
    where deleted_at is null
),

jobs as (
    select
        runs.run_key,
        {{ make_key(['runs.run_key', 'jobs.job_id']) }} as stage_key,
        runs.scope_key,
        coalesce(
            jobs.environment_name, environment_names.environment_name,
            jobs.environment_key, environment_names.environment_key, jobs.environment_id
        ) as stage_name,
        'deployment_job' as original_type,
        jobs.original_status,
        jobs.status_lookup,
        coalesce(jobs.environment_key, environment_names.environment_key) as environment_key,
        coalesce(jobs.environment_name, environment_names.environment_name) as environment_name,
        jobs.job_order,
        jobs.created_at,
        runs.finished_at as run_finished_at,
        jobs.deleted_at is not null or runs.is_deleted as is_deleted
    from {{ ref('stg_gorules__deployment_jobs') }} as jobs
    inner join runs
        on {{ make_key(["'gorules'", 'jobs.project_id', 'jobs.run_id']) }} = runs.run_key
    left join environment_names
        on jobs.environment_id = environment_names.environment_id
),

typed as (
    select
        *,
        {{ match_value('original_type') }} as type_match_kind,
        {{ match_value('stage_name') }} as type_match_name,
        '' as type_match_group
    from jobs
),

stage_types as (
    {{ classify_stage_types('gorules', 'typed') }}
),

environment_matches as (
    select lower(trim(environment_key)) as match_value from jobs
    union
    select lower(trim(environment_name)) from jobs
),

environments as (
    {{ classify_environments('environment_matches') }}
),

units as (
    select
        typed.run_key,
        typed.stage_key,
        'gorules' as provider,
        typed.scope_key,
        typed.stage_name,
        cast(null as {{ dbt.type_string() }}) as stage_group,
        typed.original_type,
        coalesce(stage_types.stage_type, 'OTHER') as stage_type,
        {{ status_columns('status_map') }},
        typed.original_status,
        coalesce(by_key.environment, by_name.environment, 'UNKNOWN') as environment,
        coalesce(typed.environment_key, typed.environment_name) as original_environment,
        typed.job_order as sort_index,
        cast(typed.job_order as {{ dbt.type_string() }}) as sort_key,
        typed.created_at as started_at,
        case when status_map.status = 'DONE' then typed.run_finished_at end as finished_at,
        -- the job's times are its run's: left out of stage-time measures
        'run' as timing_source,
        coalesce(stage_types.stage_type, 'OTHER') = 'DEPLOY' as is_deployment,
        typed.is_deleted
    from typed
    left join stage_types
        on typed.type_match_kind = stage_types.type_match_kind
        and typed.type_match_name = stage_types.type_match_name
        and typed.type_match_group = stage_types.type_match_group
    left join {{ status_map('gorules', 'job') }} as status_map
        on {{ status_lookup('typed.status_lookup') }} = status_map.status_lookup
    left join environments as by_key
        on lower(trim(typed.environment_key)) = by_key.name
    left join environments as by_name
        on lower(trim(typed.environment_name)) = by_name.name
)

{{ select_shape('stage_units', 'units') }}
