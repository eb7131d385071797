{#- How much of the loaded data each metric uses, per provider, and why the rest is left out.
    Grain: metric x provider x reason - one row for each reason that can apply to the metric (zero
    counts included), for every provider of var('providers'), so a metric and provider always appear.
    Each loaded row of a metric's population is either used or counted under exactly one reason: the
    first of the metric's reasons (in `reason_order`) that applies.

    Populations: runs (run_failure_rate, run_duration), stage units (stage_failure_rate), deployment
    candidates (int_deployments__candidates: runs that are a deployment, deploy jobs and stages) for the
    DORA metrics - all candidates for change_failure_rate; those that did not fail for
    deployment_frequency and lead_time; those that did not succeed for recovery_time.

    Reasons (contract §5 vocabulary):
      deleted             - the record (or its run, or its run's scope) is gone from the provider: its
                            raw row has deleted_at; no other model shows it
      not_production      - a deployment to a known environment other than PRODUCTION
      unknown_environment - a deployment whose environment no environment_rules pattern matches
                            (`detail`: the names, with counts)
      unmapped_status     - a status the status_map seed does not know (`detail`: the values, with
                            counts); for DORA metrics only production (or unknown-environment) rows
      stale               - unfinished, and its run stopped changing long ago (is_stale: no activity
                            for stale_after_hours before the provider's newest, or source-marked)
      in_flight           - not finished yet (not is_concluded: the one definition of unfinished); a
                            failed deployment not yet followed by a success, for recovery_time
      not_attempted       - never ran: skipped, or still queued when its run concluded (a placeholder
                            stage), or (run_duration) finished without ever starting
      cancelled           - cancelled: neither a success nor a failure
      no_commit           - lead_time only: a success whose lead time has no start (no commit and no
                            deploying run's creation, or a start after the finish)
    `lowers_coverage`: the reason marks a row the metric should have used and could not, for want of
    a seed entry or a commit (unmapped_status, unknown_environment, no_commit); the others leave rows
    out by definition (stale rows are unfinished ones, in flight for longer than stale_after_hours).
    Per metric x provider, repeated on each of its rows (do not sum them over reasons):
    rows_considered = rows_used + the rows under a reason that lowers coverage; rows_excluded =
    rows_considered - rows_used; coverage_rate = rows_used / rows_considered; rows_no_commit = used
    lead-time rows without a commit (their clock starts at the deploying run's creation). -#}
{%- set run_reasons = ['deleted', 'unmapped_status', 'stale', 'in_flight', 'cancelled', 'not_attempted'] -%}
{%- set deployment_reasons = [
    'deleted', 'not_production', 'unknown_environment', 'unmapped_status', 'stale', 'in_flight', 'not_attempted',
    'cancelled'] -%}
{%- set metrics = [
    ('run_failure_rate', run_reasons),
    ('run_duration', run_reasons),
    ('stage_failure_rate', run_reasons),
    ('deployment_frequency', deployment_reasons),
    ('lead_time', deployment_reasons + ['no_commit']),
    ('change_failure_rate', deployment_reasons),
    ('recovery_time', deployment_reasons),
] -%}
{%- set gaps = ['unmapped_status', 'unknown_environment', 'no_commit'] -%}

with metric_reasons as (
    select * from (
        values
        {%- for metric, reasons in metrics %}
            {%- set metric_loop = loop %}
            {%- for reason in reasons %}
            ('{{ metric }}', {{ metric_loop.index }}, '{{ reason }}', {{ loop.index }},
             {{ 'true' if reason in gaps else 'false' }}){{ ',' if not (metric_loop.last and loop.last) }}
            {%- endfor %}
        {%- endfor %}
    ) as reason_list (metric, metric_order, reason, reason_order, lowers_coverage)
),

providers as (
    {{ provider_rows() }}
),

runs as (
    select
        run_key,
        provider,
        original_status,
        status,
        result,
        is_status_unmapped,
        is_concluded,
        is_stale,
        is_deleted,
        duration_sec
    from {{ ref('int_pipeline_runs__unioned') }}
),

run_states as (
    select
        provider,
        original_status,
        duration_sec,
        case
            when is_deleted then 'deleted'
            when is_status_unmapped or result = 'UNKNOWN' then 'unmapped_status'
            when is_stale and not is_concluded then 'stale'
            when not is_concluded or status <> 'DONE' then 'in_flight'
            when result = 'CANCELLED' then 'cancelled'
            when result = 'SKIPPED' then 'not_attempted'
        end as reason
    from runs
),

unit_states as (
    select
        units.provider,
        units.original_status,
        case
            when units.is_deleted then 'deleted'
            when units.is_status_unmapped or units.result = 'UNKNOWN' then 'unmapped_status'
            when units.status = 'DONE' and units.result = 'CANCELLED' then 'cancelled'
            when units.status = 'DONE' and units.result = 'SKIPPED' then 'not_attempted'
            when units.status = 'DONE' then null
            when runs.is_stale and not runs.is_concluded then 'stale'
            when not runs.is_concluded then 'in_flight'
            else 'not_attempted'
        end as reason
    from {{ ref('int_stage_runs__unioned') }} as units
    inner join runs
        on units.run_key = runs.run_key
),

candidate_states as (
    select
        candidates.provider,
        candidates.original_status,
        candidates.original_environment,
        candidates.commit_sha,
        deployments.lead_time_sec,
        deployments.recovery_sec,
        case
            when candidates.exclusion_reason = 'deleted' then 'deleted'
            when candidates.environment = 'UNKNOWN' then 'unknown_environment'
            when candidates.environment <> 'PRODUCTION' then 'not_production'
            when candidates.exclusion_reason = 'unmapped_status' or deployments.result = 'UNKNOWN'
                then 'unmapped_status'
            when candidates.is_stale and coalesce(deployments.status, 'QUEUED') <> 'DONE' then 'stale'
            when deployments.status in ('IN_PROGRESS', 'WAITING') then 'in_flight'
            when candidates.exclusion_reason = 'not_started' and not runs.is_concluded then 'in_flight'
            when candidates.exclusion_reason in ('not_started', 'skipped') then 'not_attempted'
            when deployments.result = 'CANCELLED' then 'cancelled'
            when deployments.result = 'SUCCESS' then 'success'
            when deployments.result in ('FAILURE', 'TIMED_OUT') then 'failure'
            else 'unmapped_status'
        end as state
    from {{ ref('int_deployments__candidates') }} as candidates
    inner join runs
        on candidates.run_key = runs.run_key
    left join {{ ref('fct_deployments') }} as deployments
        on candidates.exclusion_reason is null
        and {{ make_key(['candidates.run_key', 'lower(candidates.environment)']) }} = deployments.deployment_key
),

-- one row per (metric, loaded row): reason NULL = used; detail_value names what the reason is about
metric_rows as (
    select 'run_failure_rate' as metric, provider, reason, original_status as detail_value, false as is_no_commit
    from run_states
    union all
    select
        'run_duration',
        provider,
        coalesce(reason, case when duration_sec is null then 'not_attempted' end),
        original_status,
        false
    from run_states
    union all
    select 'stage_failure_rate', provider, reason, original_status, false
    from unit_states
    union all
    select
        metric.name,
        candidate_states.provider,
        case
            when candidate_states.state = 'success' and metric.name = 'lead_time'
                and candidate_states.lead_time_sec is null then 'no_commit'
            when candidate_states.state = 'failure' and metric.name = 'recovery_time'
                and candidate_states.recovery_sec is null then 'in_flight'
            when candidate_states.state not in ('success', 'failure') then candidate_states.state
        end,
        case
            when candidate_states.state = 'unknown_environment' then candidate_states.original_environment
            else candidate_states.original_status
        end,
        candidate_states.state = 'success' and metric.name = 'lead_time'
            and candidate_states.lead_time_sec is not null and candidate_states.commit_sha is null
    from candidate_states
    cross join (
        select 'deployment_frequency' as name
        union all select 'lead_time'
        union all select 'change_failure_rate'
        union all select 'recovery_time'
    ) as metric
    -- each metric's population: frequency and lead time count successes, recovery time failures
    where not (candidate_states.state = 'failure' and metric.name in ('deployment_frequency', 'lead_time'))
      and not (candidate_states.state = 'success' and metric.name = 'recovery_time')
),

reason_counts as (
    select metric, provider, reason, count(*) as rows_with_reason
    from metric_rows
    where reason is not null
    group by metric, provider, reason
),

-- the status values and environment names no seed knows, with their counts, as one text per reason
detail_counts as (
    select metric, provider, reason, coalesce(detail_value, '(none)') as detail_value, count(*) as value_rows
    from metric_rows
    where reason in ('unmapped_status', 'unknown_environment')
    group by metric, provider, reason, coalesce(detail_value, '(none)')
),

details as (
    select
        metric,
        provider,
        reason,
        {{ dbt.listagg(
            "detail_value || ' (' || cast(value_rows as " ~ dbt.type_string() ~ ") || ')'",
            "', '",
            "order by value_rows desc, detail_value") }} as detail
    from detail_counts
    group by metric, provider, reason
),

totals as (
    select
        metric_rows.metric,
        metric_rows.provider,
        count(case when metric_rows.reason is null then 1 end) as rows_used,
        count(case when reasons.lowers_coverage then 1 end) as rows_missed,
        count(case when metric_rows.is_no_commit then 1 end) as rows_no_commit
    from metric_rows
    left join (select distinct reason, lowers_coverage from metric_reasons) as reasons
        on metric_rows.reason = reasons.reason
    group by metric_rows.metric, metric_rows.provider
),

grid as (
    select
        metric_reasons.metric,
        metric_reasons.metric_order,
        providers.provider,
        metric_reasons.reason,
        metric_reasons.reason_order,
        metric_reasons.lowers_coverage,
        coalesce(reason_counts.rows_with_reason, 0) as rows_with_reason,
        details.detail,
        coalesce(totals.rows_used, 0) as rows_used,
        coalesce(totals.rows_used, 0) + coalesce(totals.rows_missed, 0) as rows_considered,
        coalesce(totals.rows_no_commit, 0) as rows_no_commit
    from metric_reasons
    cross join providers
    left join reason_counts
        on metric_reasons.metric = reason_counts.metric
        and providers.provider = reason_counts.provider
        and metric_reasons.reason = reason_counts.reason
    left join details
        on metric_reasons.metric = details.metric
        and providers.provider = details.provider
        and metric_reasons.reason = details.reason
    left join totals
        on metric_reasons.metric = totals.metric
        and providers.provider = totals.provider
)

select
    metric,
    provider,
    metric_order,
    reason,
    reason_order,
    rows_with_reason,
    lowers_coverage,
    detail,
    rows_considered,
    rows_used,
    rows_considered - rows_used as rows_excluded,
    rows_no_commit,
    cast(rows_used as double precision) / nullif(rows_considered, 0) as coverage_rate
from grid
