select
    stage_key,
    run_key,
    provider,
    scope_key,
    stage_name,
    stage_group,
    stage_type,
    original_type,
    row_number() over (
        partition by run_key
        order by sort_index nulls last, started_at nulls last, sort_key
    ) as sequence,
    status,
    result,
    original_status,
    is_status_unmapped,
    coalesce(environment, 'UNKNOWN') as environment,
    original_environment,
    started_at,
    finished_at,
    duration_sec
from {{ ref('int_stage_runs__classified') }}
