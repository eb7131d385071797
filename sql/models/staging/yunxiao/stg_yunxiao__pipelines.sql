with source as (
    select * from {{ raw_source('yunxiao_pipelines') }}
),

renamed as (
    select
        organization_id,
        pipeline_id,
        pipeline_name,
        {{ to_utc('create_time') }} as created_at,
        creator_account_id,
        group_id,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
