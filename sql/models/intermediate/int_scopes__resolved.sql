{#- One row per scope (the unit a run belongs to) of every provider of var('providers'), with its
    display name and its service: the service_map seed's entry (the exact scope_key, or the longest
    prefix ending at a path segment) else the scope's own name. -#}
with scopes as (
    {{ union_provider_models('scopes') }}
),

service_matches as (
    select
        scopes.scope_key,
        service_map.service,
        row_number() over (
            partition by scopes.scope_key order by length(service_map.scope_key) desc
        ) as match_rank
    from scopes
    inner join {{ ref('service_map') }} as service_map
        on scopes.scope_key = service_map.scope_key
        or scopes.scope_key like service_map.scope_key || '/%'
)

select
    scopes.scope_key,
    scopes.provider,
    scopes.scope_kind,
    scopes.scope_path,
    scopes.scope_name,
    coalesce(service_matches.service, scopes.scope_name) as service,
    service_matches.service is not null as is_service_mapped,
    scopes.is_deleted
from scopes
left join service_matches
    on scopes.scope_key = service_matches.scope_key and service_matches.match_rank = 1
