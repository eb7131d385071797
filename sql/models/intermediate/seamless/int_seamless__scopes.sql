{#- Seamless scopes: each service with runs or a service row, named after the service, else its id. -#}
{{ config(materialized='view') }}

with services as (
    select
        service_id,
        max(service_name) as service_name,
        max(case when is_deleted then 1 else 0 end) = 1 as is_deleted
    from (
        select service_id, service_name, deleted_at is not null as is_deleted
        from {{ ref('stg_seamless__services') }}
        union all
        select service_id, null, false from {{ ref('stg_seamless__runs') }}
    ) as named
    where service_id is not null
    group by service_id
),

scopes as (
    select
        {{ make_key(["'seamless'", 'service_id']) }} as scope_key,
        'seamless' as provider,
        'service' as scope_kind,
        service_id as scope_path,
        coalesce(service_name, service_id) as scope_name,
        is_deleted
    from services
)

{{ select_shape('scopes', 'scopes') }}
