{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=["{{ delete_batch_rows('account_ref in (' ~ batch_accounts_sql() ~ ')') }}"],
    )
}}

{#-
    One row per (account_ref, campaign_name): how a B2B account's people received each campaign.
    Counts the account's email logs (dry runs excluded) with the rules of shoot_stats: sent = a
    sent event, delivered = any delivery evidence, bounced = any bounce, opened / clicked = a human
    open / click. An email log's account is its send ledger row's (the recipient's
    user_context.account_ref, or send_email's account_ref); logs without one are not here.
    Incremental per account: an account with an email log in the batch is recomputed whole.
-#}

-- depends_on: {{ ref('int_email_events__batch') }}

with

{% if is_incremental() %}
batch_accounts as materialized (

    {{ batch_accounts_sql() | indent(4) }}

),
{% endif %}

email_logs as (

    select * from {{ ref('email_logs') }}
    where account_ref is not null and not is_dry_run
    {% if is_incremental() %}
        and account_ref in (select batch_accounts.account_ref from batch_accounts)
    {% endif %}

),

final as (

    select
        account_ref,
        coalesce(campaign_name, 'unattributed') as campaign_name,
        cast(count(*) as integer) as email_log_count,
        cast(count(*) filter (where sent_at is not null) as integer) as sent_count,
        cast(count(*) filter (where delivered_at is not null) as integer) as delivered_count,
        cast(count(*) filter (where opened) as integer) as opened_count,
        cast(count(*) filter (where clicked) as integer) as clicked_count,
        cast(count(*) filter (where bounced_at is not null) as integer) as bounced_count,
        cast(count(*) filter (where complained) as integer) as complained_count,
        cast(count(*) filter (where unsubscribed) as integer) as unsubscribed_count,
        cast(count(*) filter (where state = 'failed') as integer) as failed_count,
        cast(count(*) filter (where state = 'dropped') as integer) as dropped_count,
        cast(count(*) filter (where state = 'skipped') as integer) as skipped_count,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at
    from email_logs
    group by account_ref, coalesce(campaign_name, 'unattributed')

)

select * from final
