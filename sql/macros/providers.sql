{#- The provider list lives in one place: the `providers` var of dbt_project.yml. Shared models reach
    the providers only through these macros, so a new provider is its own folders plus one var entry. -#}

{#- One row per provider of var('providers'): `select 'a' as provider union all ...`. -#}
{% macro provider_rows() -%}
    {%- for provider in var('providers') %}
    select cast('{{ provider }}' as {{ dbt.type_string() }}) as provider
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- The union of every provider's convert model `int_<provider>__<shape>` (runs, stage_units,
    scopes), each selected by the shape's columns in the shape's order. Before the union is compiled,
    each model is checked to declare the shape as its enforced contract (see shape_columns). -#}
{% macro union_provider_models(shape) -%}
    {%- for provider in var('providers') %}
        {%- set model_name = 'int_' ~ provider ~ '__' ~ shape -%}
        {%- do check_fills_shape(model_name, shape) %}
    select
        {%- for column, data_type in shape_columns(shape) %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref(model_name) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
