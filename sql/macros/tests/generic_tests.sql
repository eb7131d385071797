{#- Generic data tests used in the models' YAML. -#}

{#- Values within [min_value, max_value] (inclusive; NULL passes). Rates use 0..1. -#}
{% test within_range(model, column_name, min_value=none, max_value=none) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
      and (
        {%- if min_value is not none %} {{ column_name }} < {{ min_value }} {% else %} 1 = 0 {% endif -%}
        or
        {%- if max_value is not none %} {{ column_name }} > {{ max_value }} {% else %} 1 = 0 {% endif -%}
      )
{% endtest %}

{#- Durations and counts are never negative (NULL passes). -#}
{% test non_negative(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}

{#- Every row satisfies a boolean SQL expression. -#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}

{#- A combination of columns is unique (the grain of an aggregate mart). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
