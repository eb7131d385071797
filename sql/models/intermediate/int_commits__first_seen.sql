{#- Each commit SHA with the earliest creation of any run, in any provider, that carries it: where
    lead time starts (a commit built by one provider and deployed by another starts at the build). -#}
with runs as (
    select commit_sha, created_at, run_key, provider
    from {{ ref('int_pipeline_runs__unioned') }}
    where commit_sha is not null and created_at is not null and not is_deleted
),

ranked as (
    select
        commit_sha,
        created_at,
        run_key,
        provider,
        row_number() over (partition by commit_sha order by created_at, run_key) as seen_rank,
        count(*) over (partition by commit_sha) as runs_with_commit
    from runs
)

select
    commit_sha,
    created_at as first_seen_at,
    run_key as first_seen_run_key,
    provider as first_seen_provider,
    runs_with_commit
from ranked
where seen_rank = 1
