with source as (
    select * from {{ raw_source('northflank_workflow_runs') }}
),

renamed as (
    select
        project_id,
        workflow_id,
        id as run_id,
        name as run_name,
        description,
        status as original_status,
        concluded as is_concluded,
        lower(nullif(trim({{ json_text('arguments', 'sha') }}), '')) as argument_sha,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('started_at') }} as started_at,
        {{ to_utc('concluded_at') }} as finished_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
