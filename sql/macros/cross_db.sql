{#- Small cross-database helpers where dbt's own (dbt.date_trunc, dbt.dateadd, ...) fall short.
    Every model is one SQL for DuckDB and PostgreSQL; engine differences live only here. -#}

{#- Text value at a dotted path of a JSON column (dlt stores nested data as DuckDB JSON / PostgreSQL
    jsonb): json_text('arguments', 'sha'), json_text('release', 'version'). -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'cicd_etl')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    ({{ column }} #>> '{ {{- path.split('.') | join(',') -}} }')
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    json_extract_string({{ column }}, '$.{{ path }}')
{%- endmacro %}

{#- Continuous percentile (linear interpolation) of an expression, as an aggregate (GROUP BY only). -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'cicd_etl')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by cast({{ expression }} as double precision))
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont(cast({{ expression }} as double precision), {{ fraction }})
{%- endmacro %}

{#- Median: the 0.5 continuous percentile. -#}
{% macro median(expression) -%}
    {{ cicd_etl.percentile_cont(expression, 0.5) }}
{%- endmacro %}

{#- Seconds (double, with fractions) from timestamp `start` to timestamp `end` (negative if end < start). -#}
{% macro seconds_between(start, end) -%}
    {{ return(adapter.dispatch('seconds_between', 'cicd_etl')(start, end)) }}
{%- endmacro %}

{% macro default__seconds_between(start, end) -%}
    cast(extract(epoch from ({{ end }} - {{ start }})) as double precision)
{%- endmacro %}

{% macro duckdb__seconds_between(start, end) -%}
    (epoch_us({{ end }}) - epoch_us({{ start }})) / 1000000.0
{%- endmacro %}

{#- A duration per the contract: seconds from start to end; NULL when either is missing or end < start. -#}
{% macro duration_sec(start, end) -%}
    case
        when {{ start }} is not null and {{ end }} is not null and {{ end }} >= {{ start }}
            then {{ cicd_etl.seconds_between(start, end) }}
    end
{%- endmacro %}

{#- A timezone-aware raw timestamp as a plain UTC timestamp, so that every later date_trunc, ::date and
    comparison means UTC whatever the session time zone is. -#}
{% macro to_utc(column) -%}
    cast({{ column }} at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- The SQL type of a dlt data type (the raw tables' declared columns, sources/raw_tables.py). -#}
{% macro raw_sql_type(dlt_type) -%}
    {{ return(adapter.dispatch('raw_sql_type', 'cicd_etl')(dlt_type)) }}
{%- endmacro %}

{% macro default__raw_sql_type(dlt_type) -%}
    {{ {'text': 'text', 'bigint': 'bigint', 'bool': 'boolean', 'timestamp': 'timestamp with time zone',
        'json': 'jsonb', 'double': 'double precision'}[dlt_type] }}
{%- endmacro %}

{% macro duckdb__raw_sql_type(dlt_type) -%}
    {{ {'text': 'varchar', 'bigint': 'bigint', 'bool': 'boolean', 'timestamp': 'timestamp with time zone',
        'json': 'json', 'double': 'double'}[dlt_type] }}
{%- endmacro %}

{#- A timestamptz just after the epoch: provider "0 = not yet" values must not become 1970 dates. -#}
{% macro to_utc_epoch_floor() -%}
    cast('1970-01-02 00:00:00+00' as timestamp with time zone)
{%- endmacro %}
