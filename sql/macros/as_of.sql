{#- The build's as-of time, as a UTC timestamp literal: the dbt var `as_of` (an ISO timestamp; with an
    offset it is converted to UTC, without one it is read as UTC), by default when the build started.
    Every model that needs "now" uses this one value, so a build is consistent and a fixed-clock
    world (the demo's simulator, tests) can be reproduced. -#}
{% macro as_of() -%}
    {{ return("cast('" ~ as_of_text() ~ "' as timestamp)") }}
{%- endmacro %}

{% macro as_of_text() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or value | string | trim == '' -%}
        {%- set moment = run_started_at -%}
    {%- else -%}
        {%- set text = value | string | trim | replace('Z', '+00:00') | replace('z', '+00:00') -%}
        {%- set moment = modules.datetime.datetime.fromisoformat(text) -%}
    {%- endif -%}
    {%- if moment.tzinfo is not none -%}
        {%- set moment = moment.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
    {%- endif -%}
    {{ return(moment.strftime('%Y-%m-%d %H:%M:%S')) }}
{%- endmacro %}
