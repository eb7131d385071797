{#- Deployments with their service, where their lead time starts, and their place in the chain of
    concluded deployments of the same service and environment (ordered by finish): the previous and
    the next successful deployment. Recovery time and lead time are computed from these in
    fct_deployments, its only reader: a view, so the deployments are written (and their key tested)
    once, there. -#}
{{ config(materialized='view') }}

with deployments as (
    select
        derived.*,
        scopes.service
    from {{ ref('int_deployments__derived') }} as derived
    inner join {{ ref('int_scopes__resolved') }} as scopes
        on derived.scope_key = scopes.scope_key
),

concluded as (
    select deployment_key, service, environment, result, finished_at
    from deployments
    where status = 'DONE'
      and result in ('SUCCESS', 'FAILURE', 'TIMED_OUT')
      and finished_at is not null
),

chained as (
    select
        deployment_key,
        max(case when result = 'SUCCESS' then finished_at end) over (
            partition by service, environment
            order by finished_at, deployment_key
            rows between unbounded preceding and 1 preceding
        ) as previous_success_finished_at,
        min(case when result = 'SUCCESS' then finished_at end) over (
            partition by service, environment
            order by finished_at, deployment_key
            rows between 1 following and unbounded following
        ) as next_success_finished_at
    from concluded
)

select
    deployments.*,
    commits.first_seen_at as commit_first_seen_at,
    commits.first_seen_provider as commit_first_seen_provider,
    chained.previous_success_finished_at,
    chained.next_success_finished_at
from deployments
left join {{ ref('int_commits__first_seen') }} as commits
    on deployments.commit_sha = commits.commit_sha
left join chained
    on deployments.deployment_key = chained.deployment_key
