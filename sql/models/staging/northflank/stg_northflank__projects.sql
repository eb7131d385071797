with source as (
    select * from {{ raw_source('northflank_projects') }}
),

renamed as (
    select
        id as project_id,
        name as project_name,
        description,
        lifecycle_status,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
