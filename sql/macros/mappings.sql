{#- Mappings that are data (seeds), applied the same way by every provider's convert models. -#}

{#- The status_map rows of one provider and entity, keyed by the lower-cased original value. Join on
    status_lookup(column); read the mapped columns with status_columns(alias). -#}
{% macro status_map(provider, entity) -%}
    (
        select lower(original_status) as status_lookup, status, result
        from {{ ref('status_map') }}
        where provider = '{{ provider }}' and entity = '{{ entity }}'
    )
{%- endmacro %}

{#- The join key of a status value: lower-cased; a missing value looks up '(missing)'. -#}
{% macro status_lookup(column) -%}
    lower(coalesce({{ column }}, '(missing)'))
{%- endmacro %}

{#- status, result and is_status_unmapped from a joined status_map: an unknown value is OTHER with no
    result, and a result only ever comes with DONE. -#}
{% macro status_columns(map_alias) -%}
    coalesce({{ map_alias }}.status, 'OTHER') as status,
    case when {{ map_alias }}.status = 'DONE' then {{ map_alias }}.result end as result,
    {{ map_alias }}.status is null as is_status_unmapped
{%- endmacro %}

{#- The trigger_type_map rows of one provider, keyed by the lower-cased original trigger. -#}
{% macro trigger_type_map(provider) -%}
    (
        select lower(original_trigger) as trigger_lookup, trigger_type
        from {{ ref('trigger_type_map') }}
        where provider = '{{ provider }}'
    )
{%- endmacro %}

{#- trigger_type from a joined trigger_type_map: NULL where the provider reported none, OTHER where the
    seed does not know the value. -#}
{% macro trigger_type_column(original_trigger, map_alias) -%}
    case
        when {{ original_trigger }} is null then null
        else coalesce({{ map_alias }}.trigger_type, 'OTHER')
    end
{%- endmacro %}

{#- The environment of each distinct name in `names` (a CTE with a lower-cased, trimmed column
    match_value) by the environment_rules seed: the first matching rule wins; a name no rule matches has
    no row (read as UNKNOWN). Output columns: name, environment. -#}
{% macro classify_environments(names) -%}
    select match_value as name, environment
    from (
        {{ first_matching_rule(
            "(select distinct match_value from " ~ names ~ " where match_value is not null and match_value <> '')",
            '(select rule_order, lower(pattern) as pattern, environment from ' ~ ref('environment_rules') ~ ')',
            ['match_value'], ['environment']) }}
    ) as classified
{%- endmacro %}

{#- The stage_type of each distinct (kind, name, group) key in `keys` (a CTE with columns
    type_match_kind, type_match_name, type_match_group: lower-cased, trimmed, '' when missing) by the
    provider's stage_type_rules (first matching rule by rule_order on its field; no match: no row, read
    as OTHER). Output: the three key columns, stage_type, stage_type_rule_order. -#}
{% macro classify_stage_types(provider, keys) -%}
    select type_match_kind, type_match_name, type_match_group, stage_type, rule_order as stage_type_rule_order
    from (
        select
            type_keys.type_match_kind,
            type_keys.type_match_name,
            type_keys.type_match_group,
            type_rules.stage_type,
            type_rules.rule_order,
            row_number() over (
                partition by type_keys.type_match_kind, type_keys.type_match_name, type_keys.type_match_group
                order by type_rules.rule_order
            ) as rule_rank
        from (
            select distinct type_match_kind, type_match_name, type_match_group from {{ keys }}
        ) as type_keys
        inner join (
            select match_field, lower(pattern) as pattern, stage_type, rule_order
            from {{ ref('stage_type_rules') }}
            where provider = '{{ provider }}'
        ) as type_rules
            on (type_rules.match_field = 'kind' and type_keys.type_match_kind like type_rules.pattern)
            or (type_rules.match_field = 'name' and type_keys.type_match_name like type_rules.pattern)
            or (type_rules.match_field = 'group' and type_keys.type_match_group like type_rules.pattern)
    ) as matched
    where rule_rank = 1
{%- endmacro %}

{#- A name as the rules match it: trimmed, lower-cased, '' when missing. -#}
{% macro match_value(column) -%}
    coalesce(lower(trim({{ column }})), '')
{%- endmacro %}
