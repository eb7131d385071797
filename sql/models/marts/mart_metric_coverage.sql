{#- How much of the loaded data each metric uses, per provider, and why the rest is left out. One row
    per metric x provider (every provider of var('providers'), zeros where nothing is loaded).
    Run and stage metrics count runs / stage units; deployment metrics count deployment candidates
    (int_deployments__candidates: runs that are a deployment, and deploy jobs/stages).
    Exclusion reasons, each row counted under the first that applies:
      unmapped_status - a status value the status_map seed does not know (status OTHER);
      stale           - a run the source marked stale (non-terminal, not updated for a long time);
      unknown_env     - a deployment whose environment no environment_rules pattern matches;
      no_commit       - lead time only: no commit SHA, so lead time falls back to the deploying run's
                        creation; these rows ARE used (rows_no_commit is a subset of rows_used);
      other           - everything else not used: in flight, never started, cancelled, skipped, not
                        production, not yet recovered, missing timestamps. -#}
with metrics as (
    select * from (
        values
            ('run_failure_rate', 1),
            ('run_duration', 2),
            ('stage_failure_rate', 3),
            ('deployment_frequency', 4),
            ('lead_time', 5),
            ('change_failure_rate', 6),
            ('recovery_time', 7)
    ) as metric_list (metric, metric_order)
),

providers as (
    {{ provider_rows() }}
),

runs as (
    select
        provider,
        is_status_unmapped or status = 'OTHER' as is_unmapped,
        is_stale and status <> 'DONE' as is_stale,
        status = 'DONE' and result in ('SUCCESS', 'FAILURE', 'TIMED_OUT') as has_verdict,
        duration_sec is not null as has_duration
    from {{ ref('fct_pipeline_runs') }}
),

run_metrics as (
    select
        'run_failure_rate' as metric,
        provider,
        count(*) as rows_considered,
        count(case when has_verdict and not is_unmapped then 1 end) as rows_used,
        0 as rows_no_commit,
        0 as rows_unknown_env,
        count(case when is_unmapped then 1 end) as rows_unmapped_status,
        count(case when is_stale and not is_unmapped then 1 end) as rows_stale
    from runs
    group by provider
    union all
    select
        'run_duration',
        provider,
        count(*),
        count(case when has_verdict and has_duration and not is_unmapped then 1 end),
        0,
        0,
        count(case when is_unmapped then 1 end),
        count(case when is_stale and not is_unmapped then 1 end)
    from runs
    group by provider
),

stage_metrics as (
    select
        'stage_failure_rate' as metric,
        provider,
        count(*) as rows_considered,
        count(case when status = 'DONE' and result in ('SUCCESS', 'FAILURE', 'TIMED_OUT') then 1 end) as rows_used,
        0 as rows_no_commit,
        0 as rows_unknown_env,
        count(case when is_status_unmapped or status = 'OTHER' then 1 end) as rows_unmapped_status,
        0 as rows_stale
    from {{ ref('fct_stage_runs') }}
    group by provider
),

candidates as (
    select
        candidates.provider,
        coalesce(candidates.exclusion_reason = 'unmapped_status', false) as is_unmapped,
        coalesce(candidates.is_stale and candidates.status <> 'DONE', false) as is_stale,
        coalesce(candidates.environment = 'UNKNOWN', false) as is_unknown_env,
        coalesce(deployments.counts_for_dora, false) as is_dora,
        coalesce(deployments.counts_for_dora and deployments.result = 'SUCCESS', false) as is_production_success,
        coalesce(deployments.counts_for_dora and deployments.is_failed, false) as is_production_failure,
        deployments.lead_time_sec is not null as has_lead_time,
        deployments.commit_sha is null as has_no_commit,
        deployments.recovery_sec is not null as has_recovery
    from {{ ref('int_deployments__candidates') }} as candidates
    left join {{ ref('fct_deployments') }} as deployments
        on candidates.exclusion_reason is null
        and {{ make_key(['candidates.run_key', 'lower(candidates.environment)']) }} = deployments.deployment_key
),

classified as (
    select
        provider,
        is_unmapped,
        not is_unmapped and is_stale as is_stale_only,
        not is_unmapped and not is_stale and is_unknown_env as is_unknown_env_only,
        is_dora,
        is_production_success,
        is_production_failure,
        has_lead_time,
        has_no_commit,
        has_recovery
    from candidates
),

deployment_metrics as (
    select
        'deployment_frequency' as metric,
        provider,
        count(*) as rows_considered,
        count(case when is_production_success then 1 end) as rows_used,
        0 as rows_no_commit,
        count(case when is_unknown_env_only then 1 end) as rows_unknown_env,
        count(case when is_unmapped then 1 end) as rows_unmapped_status,
        count(case when is_stale_only then 1 end) as rows_stale
    from classified
    group by provider
    union all
    select
        'lead_time',
        provider,
        count(*),
        count(case when is_production_success and has_lead_time then 1 end),
        count(case when is_production_success and has_lead_time and has_no_commit then 1 end),
        count(case when is_unknown_env_only then 1 end),
        count(case when is_unmapped then 1 end),
        count(case when is_stale_only then 1 end)
    from classified
    group by provider
    union all
    select
        'change_failure_rate',
        provider,
        count(*),
        count(case when is_dora then 1 end),
        0,
        count(case when is_unknown_env_only then 1 end),
        count(case when is_unmapped then 1 end),
        count(case when is_stale_only then 1 end)
    from classified
    group by provider
    union all
    select
        'recovery_time',
        provider,
        count(*),
        count(case when is_production_failure and has_recovery then 1 end),
        0,
        count(case when is_unknown_env_only then 1 end),
        count(case when is_unmapped then 1 end),
        count(case when is_stale_only then 1 end)
    from classified
    group by provider
),

counted as (
    select * from run_metrics
    union all
    select * from stage_metrics
    union all
    select * from deployment_metrics
),

grid as (
    select
        metrics.metric,
        metrics.metric_order,
        providers.provider,
        coalesce(counted.rows_considered, 0) as rows_considered,
        coalesce(counted.rows_used, 0) as rows_used,
        coalesce(counted.rows_no_commit, 0) as rows_no_commit,
        coalesce(counted.rows_unknown_env, 0) as rows_unknown_env,
        coalesce(counted.rows_unmapped_status, 0) as rows_unmapped_status,
        coalesce(counted.rows_stale, 0) as rows_stale
    from metrics
    cross join providers
    left join counted
        on metrics.metric = counted.metric and providers.provider = counted.provider
)

select
    metric,
    provider,
    metric_order,
    rows_considered,
    rows_used,
    rows_considered - rows_used - rows_unknown_env - rows_unmapped_status - rows_stale as rows_excluded_other,
    rows_no_commit,
    rows_unknown_env,
    rows_unmapped_status,
    rows_stale,
    rows_considered - rows_used as rows_excluded,
    cast(rows_used as double precision) / nullif(rows_considered, 0) as coverage_rate
from grid
