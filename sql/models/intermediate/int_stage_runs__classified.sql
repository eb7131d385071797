{#- Stage units with their stage_type (stage_type_rules seed: first matching rule on the unit's kind,
    name or stage-group name, per provider; no match = OTHER), their environment and what orders them
    in their run (fct_stage_runs numbers them). Environments: a Northflank node inherits its run's; a
    GoRules job has its environment's (key, then name); a Seamless or Yunxiao unit has one only when it
    deploys (stage_type DEPLOY), from its name (then its stage's name); no rule match = UNKNOWN.
    A view: the ~1 M units are written once per build, as fct_stage_runs (whose tests cover the key). -#}
{{ config(materialized='view') }}

with stages as (
    select * from {{ ref('int_stage_runs__unioned') }}
),

-- the rules are matched on the few distinct (provider, kind, name, group) keys, not on every unit
type_keys as (
    select distinct provider, type_match_kind, type_match_name, type_match_group
    from stages
),

type_rules as (
    select provider, match_field, lower(pattern) as pattern, stage_type, rule_order
    from {{ ref('stage_type_rules') }}
),

type_matches as (
    select
        type_keys.provider,
        type_keys.type_match_kind,
        type_keys.type_match_name,
        type_keys.type_match_group,
        type_rules.stage_type,
        type_rules.rule_order,
        row_number() over (
            partition by
                type_keys.provider, type_keys.type_match_kind, type_keys.type_match_name,
                type_keys.type_match_group
            order by type_rules.rule_order
        ) as rule_rank
    from type_keys
    inner join type_rules
        on type_keys.provider = type_rules.provider
        and (
            (type_rules.match_field = 'kind' and type_keys.type_match_kind like type_rules.pattern)
            or (type_rules.match_field = 'name' and type_keys.type_match_name like type_rules.pattern)
            or (type_rules.match_field = 'group' and type_keys.type_match_group like type_rules.pattern)
        )
),

first_type_matches as (
    select * from type_matches where rule_rank = 1
),

environments as (
    select name, environment from {{ ref('int_environment_names__classified') }}
),

typed as (
    select
        stages.run_key,
        stages.stage_key,
        stages.provider,
        stages.scope_key,
        stages.stage_name,
        stages.stage_group,
        stages.original_type,
        coalesce(first_type_matches.stage_type, 'OTHER') as stage_type,
        first_type_matches.rule_order as stage_type_rule_order,
        stages.status,
        stages.result,
        stages.original_status,
        stages.is_status_unmapped,
        stages.environment_name,
        stages.environment_alt_name,
        stages.inherited_environment,
        primary_environment.environment as primary_environment,
        alternate_environment.environment as alternate_environment,
        stages.sort_key,
        stages.sort_index,
        stages.started_at,
        stages.finished_at
    from stages
    left join first_type_matches
        on stages.provider = first_type_matches.provider
        and stages.type_match_kind = first_type_matches.type_match_kind
        and stages.type_match_name = first_type_matches.type_match_name
        and stages.type_match_group = first_type_matches.type_match_group
    left join environments as primary_environment
        on stages.environment_match_name = primary_environment.name
    left join environments as alternate_environment
        on stages.environment_match_alt_name = alternate_environment.name
)

select
    run_key,
    stage_key,
    provider,
    scope_key,
    stage_name,
    stage_group,
    original_type,
    stage_type,
    -- order in the run: Seamless by the matched rule (pipeline order), GoRules by job order, Yunxiao by
    -- stage index; then start time, then the unit's own key
    case when provider = 'seamless' then stage_type_rule_order else sort_index end as sort_index,
    sort_key,
    status,
    result,
    original_status,
    is_status_unmapped,
    case
        when provider = 'northflank' then inherited_environment
        when provider = 'gorules' or stage_type = 'DEPLOY'
            then coalesce(primary_environment, alternate_environment, 'UNKNOWN')
    end as environment,
    case
        when provider = 'gorules' or stage_type = 'DEPLOY' then coalesce(environment_name, environment_alt_name)
    end as original_environment,
    started_at,
    finished_at,
    {{ duration_sec('started_at', 'finished_at') }} as duration_sec
from typed
