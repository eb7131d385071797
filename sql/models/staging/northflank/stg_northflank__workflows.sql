with source as (
    select * from {{ raw_source('northflank_workflows') }}
),

renamed as (
    select
        project_id,
        id as workflow_id,
        name as workflow_name,
        description,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
