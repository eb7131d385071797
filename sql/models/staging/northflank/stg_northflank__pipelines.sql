with source as (
    select * from {{ raw_source('northflank_pipelines') }}
),

renamed as (
    select
        project_id,
        id as pipeline_id,
        name as pipeline_name,
        description,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
