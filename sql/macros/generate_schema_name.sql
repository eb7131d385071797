{#- Schemas are named exactly as configured: marts in the target schema (`analytics`), staging in
    `analytics_staging`, intermediate in `analytics_intermediate`, seeds in `analytics_seeds`
    (dbt's default would prefix them with the target schema: `analytics_analytics_staging`). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
