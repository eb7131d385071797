with source as (
    select * from {{ raw_source('seamless_pipelines') }}
),

renamed as (
    select
        id as pipeline_id,
        name as pipeline_name,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        aws_ecs_cluster,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
