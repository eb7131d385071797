{#- The one way every key is built (contract §4): parts joined by ':' -
        scope_key      = make_key([provider literal, scope path])
        run_key        = make_key([scope_key, native run id])
        stage_key      = make_key([run_key, unit id])
        deployment_key = make_key([run_key, 'lower(environment)'])
    and a scope path's segments by '/': make_key([project_id, pipeline_id], '/').
    Each part is an SQL expression, cast to text; the key is NULL when any part is NULL. -#}
{% macro make_key(parts, separator=':') -%}
    {%- for part in parts -%}
        cast({{ part }} as {{ dbt.type_string() }})
        {%- if not loop.last %} || '{{ separator }}' || {% endif -%}
    {%- endfor -%}
{%- endmacro %}
