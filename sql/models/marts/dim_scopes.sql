{#- One row per scope whose record is not deleted. -#}
with scopes as (
    select * from {{ ref('int_scopes__resolved') }}
    where not is_deleted
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
