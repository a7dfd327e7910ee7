{#- The send ledger (app.email_sends), one row per recipient per shoot, ids as text. -#}

with

source as (

    select * from {{ source('mailtrail', 'email_sends') }}

),

final as (

    select
        cast(email_log_id as text) as email_log_id,
        cast(shoot_id as text) as shoot_id,
        nullif(trim(campaign_name), '') as campaign_name,
        nullif(trim(app_name), '') as app_name,
        nullif(trim(template_name), '') as template_name,
        user_id,
        nullif(trim(account_ref), '') as account_ref,
        lower(trim(recipient)) as recipient,
        status,
        reason,
        provider as send_provider,
        nullif(trim(message_id), '') as message_id,
        error_type,
        error_message,
        is_dry_run,
        -- jsonb, not text[]: dbt (postgres) cannot cast fixtures to an array type in unit tests
        to_jsonb(attachment_filenames) as attachment_filenames,
        nullif(trim(custom_blocks_variation_id), '') as custom_blocks_variation_id,
        created_at,
        sent_at,
        updated_at,
        load_xid,
        nullif(trim(transactional_message_id), '') as transactional_message_id,
        email_priority
    from source

)

select * from final
