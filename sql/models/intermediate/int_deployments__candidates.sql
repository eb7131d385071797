{#- Every unit that would deploy if it ran, before any filtering: runs that are themselves one
    deployment (is_deployment: the run's environment is where it deploys) and units that are
    (is_deployment: a deploy job or stage, to the unit's environment), with what the run deploys
    (its version) and where its lead time would start. `exclusion_reason` says why a unit is not a
    deployment attempt: it never started (QUEUED), was SKIPPED, or has a status the status_map does
    not know - or the unit (or its run) is deleted. The units are read from int_stage_runs__unioned,
    the one table of the ~1 M units. -#}
with runs as (
    select
        run_key, provider, scope_key, environment, original_environment, status, result, original_status,
        is_status_unmapped, commit_sha, version, started_at, finished_at, created_at, is_stale, is_deployment,
        is_deleted
    from {{ ref('int_pipeline_runs__unioned') }}
),

deploying_runs as (
    select
        run_key,
        run_key as source_key,
        'run' as derived_from,
        provider,
        scope_key,
        environment,
        original_environment,
        status,
        result,
        original_status,
        is_status_unmapped,
        commit_sha,
        version,
        started_at,
        finished_at,
        created_at as run_created_at,
        is_stale,
        is_deleted
    from runs
    where is_deployment
),

deploying_units as (
    select
        units.run_key,
        units.stage_key as source_key,
        'stage' as derived_from,
        units.provider,
        units.scope_key,
        units.environment,
        units.original_environment,
        units.status,
        units.result,
        units.original_status,
        units.is_status_unmapped,
        runs.commit_sha,
        runs.version,
        units.started_at,
        units.finished_at,
        runs.created_at as run_created_at,
        runs.is_stale,
        units.is_deleted
    from {{ ref('int_stage_runs__unioned') }} as units
    inner join runs
        on units.run_key = runs.run_key
    where units.is_deployment
),

candidates as (
    select * from deploying_runs
    union all
    select * from deploying_units
)

select
    *,
    case
        when is_deleted then 'deleted'
        when is_status_unmapped then 'unmapped_status'
        when status = 'OTHER' then 'unmapped_status'
        when status = 'QUEUED' then 'not_started'
        when result = 'SKIPPED' then 'skipped'
    end as exclusion_reason
from candidates
