{#- The first seed rule (lowest rule_order) whose LIKE pattern matches a name, found once per distinct
    name: `names` is a relation/CTE with a column `match_value` (already lower-cased, plus any grouping
    columns in `key_columns`); `rules` is a CTE with `pattern`, `rule_order` and the output columns.
    Used by the environment and stage-type classifications so mappings stay in seeds. -#}
{% macro first_matching_rule(names, rules, key_columns, output_columns, extra_join='') -%}
    select {{ key_columns | join(', ') }}, {{ output_columns | join(', ') }}
    from (
        select
            {% for c in key_columns %}n.{{ c }}, {% endfor %}
            {% for c in output_columns %}r.{{ c }}, {% endfor %}
            row_number() over (
                partition by {% for c in key_columns %}n.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
                order by r.rule_order
            ) as rule_rank
        from {{ names }} as n
        inner join {{ rules }} as r
            on n.match_value like r.pattern {{ extra_join }}
    ) as ranked
    where rule_rank = 1
{%- endmacro %}
