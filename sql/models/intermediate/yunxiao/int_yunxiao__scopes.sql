{#- Yunxiao scopes: each pipeline with runs or a pipeline row, named after the pipeline, else its id. -#}
{{ config(materialized='view') }}

with pipelines as (
    select
        organization_id,
        pipeline_id,
        max(pipeline_name) as pipeline_name,
        max(case when is_deleted then 1 else 0 end) = 1 as is_deleted
    from (
        select organization_id, pipeline_id, pipeline_name, deleted_at is not null as is_deleted
        from {{ ref('stg_yunxiao__pipelines') }}
        union all
        select organization_id, pipeline_id, null, false from {{ ref('stg_yunxiao__pipeline_runs') }}
    ) as named
    group by organization_id, pipeline_id
),

scopes as (
    select
        {{ make_key(["'yunxiao'", 'scope_path']) }} as scope_key,
        'yunxiao' as provider,
        'pipeline' as scope_kind,
        scope_path,
        scope_name,
        is_deleted
    from (
        select
            {{ make_key(['organization_id', 'pipeline_id'], '/') }} as scope_path,
            coalesce(pipeline_name, cast(pipeline_id as {{ dbt.type_string() }})) as scope_name,
            is_deleted
        from pipelines
    ) as named
)

{{ select_shape('scopes', 'scopes') }}
