{#- Stage units with their stage_type (stage_type_rules seed: first matching rule on the unit's kind,
    name or stage-group name, per provider; no match = OTHER), their environment and their sequence in
    the run. Environments: a Northflank node inherits its run's; a GoRules job has its environment's
    (key, then name); a Seamless or Yunxiao unit has one only when it deploys (stage_type DEPLOY),
    from its name (then its stage's name); no rule match = UNKNOWN. -#}
with stages as (
    select * from {{ ref('int_stage_runs__unioned') }}
),

type_keys as (
    select distinct
        provider,
        coalesce(lower(trim(original_type)), '') as kind_value,
        coalesce(lower(trim(stage_name)), '') as name_value,
        coalesce(lower(trim(stage_group)), '') as group_value
    from stages
),

type_rules as (
    select provider, match_field, lower(pattern) as pattern, stage_type, rule_order
    from {{ ref('stage_type_rules') }}
),

type_matches as (
    select
        type_keys.provider,
        type_keys.kind_value,
        type_keys.name_value,
        type_keys.group_value,
        type_rules.stage_type,
        type_rules.rule_order,
        row_number() over (
            partition by type_keys.provider, type_keys.kind_value, type_keys.name_value, type_keys.group_value
            order by type_rules.rule_order
        ) as rule_rank
    from type_keys
    inner join type_rules
        on type_keys.provider = type_rules.provider
        and (
            (type_rules.match_field = 'kind' and type_keys.kind_value like type_rules.pattern)
            or (type_rules.match_field = 'name' and type_keys.name_value like type_rules.pattern)
            or (type_rules.match_field = 'group' and type_keys.group_value like type_rules.pattern)
        )
),

environments as (
    select name, environment from {{ ref('int_environment_names__classified') }}
),

typed as (
    select
        stages.*,
        coalesce(type_matches.stage_type, 'OTHER') as stage_type,
        type_matches.rule_order as stage_type_rule_order,
        primary_environment.environment as primary_environment,
        alternate_environment.environment as alternate_environment
    from stages
    left join type_matches
        on stages.provider = type_matches.provider
        and coalesce(lower(trim(stages.original_type)), '') = type_matches.kind_value
        and coalesce(lower(trim(stages.stage_name)), '') = type_matches.name_value
        and coalesce(lower(trim(stages.stage_group)), '') = type_matches.group_value
        and type_matches.rule_rank = 1
    left join environments as primary_environment
        on lower(trim(stages.environment_name)) = primary_environment.name
    left join environments as alternate_environment
        on lower(trim(stages.environment_alt_name)) = alternate_environment.name
)

select
    run_key,
    stage_key,
    provider,
    stage_name,
    stage_group,
    original_type,
    stage_type,
    row_number() over (
        partition by run_key
        order by
            case when provider = 'seamless' then stage_type_rule_order else sort_index end nulls last,
            started_at nulls last,
            sort_key
    ) as sequence,
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
