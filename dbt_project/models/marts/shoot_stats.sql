{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=["{{ delete_batch_rows('shoot_id in (' ~ batch_shoots_sql() ~ ')') }}"],
    )
}}

{#-
    One row per shoot (seed 004's EmailShoot counters). recipient / sent / failed / skipped /
    dropped / unknown / pending come from orchestration's counters in app.shoots; delivered /
    opened / clicked / bounced / complained count the shoot's email logs (non dry-run) as
    campaign_daily_stats does: delivered = any delivery evidence, bounced = any bounce, opened =
    a human open, clicked = a human click, unsubscribed = an unsubscribe. custom_blocks_variation_id
    is the shoot's content variation (campaign_variation_stats adds the shoots up per variation).
-#}

-- depends_on: {{ ref('int_email_events__batch') }}

with

{% if is_incremental() %}
-- shoots with an email log in the batch, and shoots whose own row changed
batch_shoots as materialized (

    {{ batch_shoots_sql() | indent(4) }}

),
{% endif %}

shoots as (

    select * from {{ ref('stg_mailtrail__shoots') }}
    {% if is_incremental() %}
    where shoot_id in (select batch_shoots.shoot_id from batch_shoots)
    {% endif %}

),

email_logs as (

    select * from {{ ref('email_logs') }}
    {% if is_incremental() %}
    where shoot_id in (select batch_shoots.shoot_id from batch_shoots)
    {% endif %}

),

shoot_email_logs as (

    select
        shoot_id,
        cast(count(*) filter (where delivered_at is not null) as integer) as delivered_count,
        cast(count(*) filter (where opened) as integer) as opened_count,
        cast(count(*) filter (where clicked) as integer) as clicked_count,
        cast(count(*) filter (where bounced_at is not null) as integer) as bounced_count,
        cast(count(*) filter (where complained) as integer) as complained_count,
        cast(count(*) filter (where unsubscribed) as integer) as unsubscribed_count
    from email_logs
    where shoot_id is not null and not is_dry_run
    group by shoot_id

),

final as (

    select
        shoots.shoot_id,
        shoots.campaign_name,
        shoots.app_name,
        shoots.config_id,
        shoots.scheduled_at,
        shoots.state,
        shoots.started_at,
        shoots.completed_at,
        shoots.cancelled_at,
        shoots.recipient_count,
        shoots.sent_count,
        coalesce(shoot_email_logs.delivered_count, 0) as delivered_count,
        coalesce(shoot_email_logs.opened_count, 0) as opened_count,
        coalesce(shoot_email_logs.clicked_count, 0) as clicked_count,
        shoots.failed_count,
        coalesce(shoot_email_logs.bounced_count, 0) as bounced_count,
        coalesce(shoot_email_logs.complained_count, 0) as complained_count,
        shoots.skipped_count,
        shoots.dropped_count,
        shoots.unknown_count,
        shoots.pending_count,
        shoots.custom_blocks_variation_id,
        coalesce(shoot_email_logs.unsubscribed_count, 0) as unsubscribed_count
    from shoots
    left join shoot_email_logs
        on shoots.shoot_id = shoot_email_logs.shoot_id

)

select * from final
