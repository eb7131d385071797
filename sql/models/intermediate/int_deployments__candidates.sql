{#- Every unit that would deploy if it ran, before any filtering: Northflank release-flow runs
    (environment = their stage), and GoRules jobs, Seamless DEPLOY_* stages and Yunxiao deploy
    jobs/stages (stage_type DEPLOY). `exclusion_reason` says why a unit is not a deployment attempt:
    it never started (QUEUED), was SKIPPED, or has a status the status_map does not know.
    Stage units are read from fct_stage_runs, the one table of the ~1 M classified units: recomputing
    them here from the int_stage_runs__classified view cost more than waiting for that table. -#}
with runs as (
    select
        run_key, run_id, run_name, run_kind, provider, scope_key, environment, original_environment,
        status, result, original_status, is_status_unmapped, commit_sha, started_at, finished_at,
        created_at, is_stale
    from {{ ref('int_pipeline_runs__unioned') }}
),

gorules_releases as (
    select
        'gorules:' || project_id || ':' || run_id as run_key,
        coalesce(release_version, release_name, release_id) as version
    from {{ ref('stg_gorules__deployment_runs') }}
),

northflank_release_flow_runs as (
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
        coalesce(run_name, commit_sha, run_id) as version,
        started_at,
        finished_at,
        created_at as run_created_at,
        is_stale
    from runs
    where run_kind = 'release_flow'
),

deploy_stages as (
    select
        stages.run_key,
        stages.stage_key as source_key,
        'stage' as derived_from,
        stages.provider,
        stages.scope_key,
        stages.environment,
        stages.original_environment,
        stages.status,
        stages.result,
        stages.original_status,
        stages.is_status_unmapped,
        runs.commit_sha,
        coalesce(gorules_releases.version, runs.commit_sha, runs.run_name, runs.run_id) as version,
        stages.started_at,
        stages.finished_at,
        runs.created_at as run_created_at,
        runs.is_stale
    from {{ ref('fct_stage_runs') }} as stages
    inner join runs
        on stages.run_key = runs.run_key
    left join gorules_releases
        on stages.run_key = gorules_releases.run_key
    where stages.stage_type = 'DEPLOY'
      and stages.provider <> 'northflank'
),

candidates as (
    select * from northflank_release_flow_runs
    union all
    select * from deploy_stages
)

select
    *,
    case
        when is_status_unmapped then 'unmapped_status'
        when status = 'OTHER' then 'unmapped_status'
        when status = 'QUEUED' then 'not_started'
        when result = 'SKIPPED' then 'skipped'
    end as exclusion_reason
from candidates
