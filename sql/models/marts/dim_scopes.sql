with scopes as (
    select * from {{ ref('int_scopes__resolved') }}
)

select
    scope_key,
    provider,
    scope_kind,
    scope_path,
    scope_name,
    service,
    is_service_mapped
from scopes
