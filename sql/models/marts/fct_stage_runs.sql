with stages as (
    select * from {{ ref('int_stage_runs__classified') }}
),

runs as (
    select run_key, scope_key from {{ ref('int_pipeline_runs__unioned') }}
)

select
    stages.stage_key,
    stages.run_key,
    stages.provider,
    runs.scope_key,
    stages.stage_name,
    stages.stage_group,
    stages.stage_type,
    stages.original_type,
    stages.sequence,
    stages.status,
    stages.result,
    stages.original_status,
    stages.is_status_unmapped,
    coalesce(stages.environment, 'UNKNOWN') as environment,
    stages.original_environment,
    stages.started_at,
    stages.finished_at,
    stages.duration_sec
from stages
inner join runs
    on stages.run_key = runs.run_key
