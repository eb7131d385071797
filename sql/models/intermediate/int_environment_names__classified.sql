{#- Every distinct name that can say which environment a run, job or stage targets, classified once by
    the environment_rules seed (first matching rule wins; no match = no row, read as UNKNOWN). -#}
with names as (
    select lower(trim(stage)) as match_value from {{ ref('stg_northflank__release_flow_runs') }}
    union
    select lower(trim(environment_key)) from {{ ref('stg_gorules__deployment_jobs') }}
    union
    select lower(trim(environment_name)) from {{ ref('stg_gorules__deployment_jobs') }}
    union
    select lower(trim(environment_key)) from {{ ref('stg_gorules__environments') }}
    union
    select lower(trim(environment_name)) from {{ ref('stg_gorules__environments') }}
    union
    select lower(trim(stage_kind)) from {{ ref('stg_seamless__stages') }}
    union
    select lower(trim(job_name)) from {{ ref('stg_yunxiao__pipeline_run_jobs') }}
    union
    select lower(trim(stage_name)) from {{ ref('stg_yunxiao__pipeline_run_stages') }}
),

known_names as (
    select match_value from names where match_value is not null and match_value <> ''
),

rules as (
    select rule_order, lower(pattern) as pattern, environment
    from {{ ref('environment_rules') }}
),

classified as (
    {{ first_matching_rule('known_names', 'rules', ['match_value'], ['environment', 'rule_order']) }}
)

select
    match_value as name,
    environment,
    rule_order as matched_rule_order
from classified
