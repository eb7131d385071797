with source as (
    select * from {{ raw_source('northflank_projects') }}
),

renamed as (
    select
        id as project_id,
        name as project_name,
        description,
        lifecycle_status
    from source
)

select * from renamed
