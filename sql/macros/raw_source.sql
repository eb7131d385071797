{#- A raw table as a subquery with exactly the columns declared in the source YAML (the same list as
    sources/raw_tables.py). A provider that was never loaded has no tables, and a column whose values
    were always NULL may be missing: both read as typed NULLs, so the models build for any subset of
    providers. Usage: `select * from {{ raw_source('<provider>_runs') }}`. -#}
{% macro raw_source(table_name) -%}
    {%- set relation = source('cicd_raw', table_name) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = graph.sources['source.cicd_etl.cicd_raw.' ~ table_name] -%}
    {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- set present = [] -%}
    {%- if existing is not none -%}
        {%- for column in adapter.get_columns_in_relation(existing) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    (
        select
        {%- for name, column in node.columns.items() %}
            {% if name | lower in present -%}
                {{ adapter.quote(name) }}
            {%- else -%}
                cast(null as {{ cicd_etl.raw_sql_type(column.data_type) }})
            {%- endif %} as {{ adapter.quote(name) }}{{ ',' if not loop.last }}
        {%- endfor %}
        {% if existing is not none -%}
        from {{ existing }}
        {%- else -%}
        from (select 1 as no_rows) as missing_table where 1 = 0
        {%- endif %}
    ) as raw_{{ table_name }}
{%- endmacro %}
