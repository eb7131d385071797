with source as (
    select * from {{ raw_source('github_workflows') }}
),

renamed as (
    select
        repository,
        id as workflow_id,
        name as workflow_name,
        path as workflow_path,
        state as workflow_state,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
