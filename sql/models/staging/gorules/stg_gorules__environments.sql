with source as (
    select * from {{ raw_source('gorules_environments') }}
),

renamed as (
    select
        id as environment_id,
        project_id,
        name as environment_name,
        {{ adapter.quote('key') }} as environment_key,
        {{ adapter.quote('type') }} as environment_type,
        required_reviewers,
        approval_mode,
        workflow_order,
        {{ json_text('project', 'name') }} as project_name,
        {{ json_text('project', 'key') }} as project_key,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
