{{ config(materialized='view') }}

{#- Deployment attempts: candidates that started (IN_PROGRESS, WAITING or DONE) and were not SKIPPED,
    one per run and environment (several deploy jobs of one run to one environment are one deployment,
    as DevLake does). A collapsed deployment is DONE when all its units are; its result is the worst:
    FAILURE > TIMED_OUT > CANCELLED > SUCCESS > UNKNOWN. -#}
with attempts as (
    select * from {{ ref('int_deployments__candidates') }}
    where exclusion_reason is null
),

collapsed as (
    select
        {{ make_key(['run_key', 'lower(environment)']) }} as deployment_key,
        run_key,
        environment,
        min(provider) as provider,
        min(scope_key) as scope_key,
        min(derived_from) as derived_from,
        min(source_key) as source_key,
        count(*) as source_units,
        min(original_environment) as original_environment,
        max(commit_sha) as commit_sha,
        max(version) as version,
        min(started_at) as started_at,
        max(finished_at) as finished_at,
        min(run_created_at) as run_created_at,
        max(case when is_stale then 1 else 0 end) = 1 as is_stale,
        count(case when status = 'DONE' then 1 end) as done_units,
        count(case when status = 'IN_PROGRESS' then 1 end) as in_progress_units,
        count(case when result = 'FAILURE' then 1 end) as failure_units,
        count(case when result = 'TIMED_OUT' then 1 end) as timed_out_units,
        count(case when result = 'CANCELLED' then 1 end) as cancelled_units,
        count(case when result = 'SUCCESS' then 1 end) as success_units
    from attempts
    group by run_key, environment
)

select
    deployment_key,
    run_key,
    provider,
    scope_key,
    environment,
    original_environment,
    case
        when done_units = source_units then 'DONE'
        when in_progress_units > 0 then 'IN_PROGRESS'
        else 'WAITING'
    end as status,
    case
        when done_units < source_units then null
        when failure_units > 0 then 'FAILURE'
        when timed_out_units > 0 then 'TIMED_OUT'
        when cancelled_units > 0 then 'CANCELLED'
        when success_units > 0 then 'SUCCESS'
        else 'UNKNOWN'
    end as result,
    version,
    commit_sha,
    derived_from,
    source_key,
    source_units,
    started_at,
    case when done_units = source_units then finished_at end as finished_at,
    run_created_at,
    is_stale
from collapsed
