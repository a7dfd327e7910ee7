{#- Planned shoots (app.shoots) with their dispatch counters, ids as text. -#}

with

source as (

    select * from {{ source('mailtrail', 'shoots') }}

),

final as (

    select
        cast(shoot_id as text) as shoot_id,
        campaign_name,
        app_name,
        config_id,
        scheduled_at,
        state,
        template_name,
        dry_run as is_dry_run,
        nullif(trim(custom_blocks_variation_id), '') as custom_blocks_variation_id,
        created_at,
        started_at,
        completed_at,
        cancelled_at,
        updated_at,
        recipient_count,
        sent_count,
        failed_count,
        skipped_count,
        dropped_count,
        unknown_count,
        pending_count,
        load_xid
    from source

)

select * from final
