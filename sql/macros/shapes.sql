{#- The shared shapes every provider's convert step fills (issue 12: one contract per shape). Each
    provider folder models/intermediate/<provider>/ has int_<provider>__runs, int_<provider>__stage_units
    and int_<provider>__scopes; each declares the shape's columns and types in its YAML with
    `contract: {enforced: true}` and ends with `{{ select_shape('<shape>', '<cte>') }}`. The union
    models read them through union_provider_models(), which checks the declarations first.
    Types are spelled so that both DuckDB and PostgreSQL accept them. `is_deleted`: the record (or
    the record it belongs to: a run's scope, a unit's run) is gone from the provider (its raw row has
    deleted_at); the unions keep such rows for mart_metric_coverage (`deleted`), every other model
    leaves them out. -#}
{% macro shape_columns(shape) -%}
    {%- set shapes = {
        'runs': [
            ('run_key', 'text'),
            ('provider', 'text'),
            ('scope_key', 'text'),
            ('run_id', 'text'),
            ('run_name', 'text'),
            ('run_kind', 'text'),
            ('status', 'text'),
            ('result', 'text'),
            ('original_status', 'text'),
            ('is_status_unmapped', 'boolean'),
            ('provider_concluded', 'boolean'),
            ('trigger_type', 'text'),
            ('original_trigger', 'text'),
            ('commit_sha', 'text'),
            ('environment', 'text'),
            ('original_environment', 'text'),
            ('created_at', 'timestamp'),
            ('started_at', 'timestamp'),
            ('finished_at', 'timestamp'),
            ('updated_at', 'timestamp'),
            ('source_stale', 'boolean'),
            ('is_deployment', 'boolean'),
            ('version', 'text'),
            ('is_deleted', 'boolean'),
        ],
        'stage_units': [
            ('run_key', 'text'),
            ('stage_key', 'text'),
            ('provider', 'text'),
            ('scope_key', 'text'),
            ('stage_name', 'text'),
            ('stage_group', 'text'),
            ('original_type', 'text'),
            ('stage_type', 'text'),
            ('status', 'text'),
            ('result', 'text'),
            ('original_status', 'text'),
            ('is_status_unmapped', 'boolean'),
            ('environment', 'text'),
            ('original_environment', 'text'),
            ('sort_index', 'bigint'),
            ('sort_key', 'text'),
            ('started_at', 'timestamp'),
            ('finished_at', 'timestamp'),
            ('timing_source', 'text'),
            ('is_deployment', 'boolean'),
            ('is_deleted', 'boolean'),
        ],
        'scopes': [
            ('scope_key', 'text'),
            ('provider', 'text'),
            ('scope_kind', 'text'),
            ('scope_path', 'text'),
            ('scope_name', 'text'),
            ('is_deleted', 'boolean'),
        ],
    } -%}
    {{ return(shapes[shape]) }}
{%- endmacro %}

{#- A provider model's final select: every column of the shape from `relation`, cast to its type, in
    the shape's order (so both engines report exactly the declared types). -#}
{% macro select_shape(shape, relation) -%}
    select
    {%- for column, data_type in shape_columns(shape) %}
        cast({{ column }} as {{ data_type }}) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ relation }}
{%- endmacro %}

{#- Fails the compilation, naming the model, when it does not declare exactly the shape's columns and
    types with an enforced contract (a new provider's YAML copied wrong is caught before any SQL runs). -#}
{% macro check_fills_shape(model_name, shape) -%}
    {%- if execute -%}
        {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) -%}
        {%- if node is none -%}
            {{ exceptions.raise_compiler_error(
                "var('providers') names a provider without the model " ~ model_name
                ~ " (each provider needs int_<provider>__runs, __stage_units and __scopes)") }}
        {%- endif -%}
        {%- set declared = [] -%}
        {%- for column in node.columns.values() -%}
            {%- do declared.append((column.name, (column.data_type or '') | lower)) -%}
        {%- endfor -%}
        {%- set wanted = shape_columns(shape) | list -%}
        {%- if declared != wanted or not node.config.contract.enforced -%}
            {{ exceptions.raise_compiler_error(
                model_name ~ " must declare the '" ~ shape ~ "' shape (macros/shapes.sql) as an enforced "
                ~ "contract: columns " ~ wanted ~ "; its YAML declares " ~ declared
                ~ " (contract enforced: " ~ node.config.contract.enforced ~ ")") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
