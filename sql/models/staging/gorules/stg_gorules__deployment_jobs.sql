with source as (
    select * from {{ raw_source('gorules_deployment_jobs') }}
),

renamed as (
    select
        run_id,
        id as job_id,
        project_id,
        environment_id,
        environment_name,
        environment_key,
        status as original_status,
        -- the status_map key: a job rejected in review is cancelled whatever its status says
        case
            when lower(reviewed_conclusion) = 'rejected' then 'review:rejected'
            else status
        end as status_lookup,
        {{ adapter.quote('order') }} as job_order,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('reviewed_at') }} as reviewed_at,
        reviewed_conclusion,
        reviewed_comment,
        previous_release_id,
        event,
        {{ to_utc('deleted_at') }} as deleted_at
    from source
)

select * from renamed
