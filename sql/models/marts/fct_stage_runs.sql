{#- The units that do work (grain: unit), as analysts query them: those not deleted. A view of
    int_stage_runs__unioned, where the ~1 M units are written once per build. -#}
{{ config(materialized='view') }}

select
    stage_key,
    run_key,
    provider,
    scope_key,
    stage_name,
    stage_group,
    stage_type,
    original_type,
    sequence,
    status,
    result,
    original_status,
    is_status_unmapped,
    environment,
    original_environment,
    started_at,
    finished_at,
    duration_sec,
    timing_source
from {{ ref('int_stage_runs__unioned') }}
where not is_deleted
