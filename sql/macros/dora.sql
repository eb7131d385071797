{#- The name of the DORA marts' row for every service together (mart_dora_summary, mart_dora_weekly),
    as an SQL text literal. -#}
{% macro all_services() -%}
    cast('(all services)' as {{ dbt.type_string() }})
{%- endmacro %}
