{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=["{{ delete_batch_rows('email_log_id = any(array(' ~ batch_email_logs_sql() ~ '))') }}"],
        indexes=[
            {'columns': ['email_log_id'], 'unique': True},
            {'columns': ['shoot_id']},
            {'columns': ['account_ref']},
        ],
    )
}}

{#-
    One row per email log (message x recipient, seed 004's EmailLog). The state is a function of
    the set of the log's events (macros/email_log_state.sql), never of their arrival order.
    user_id / account_ref / is_dry_run / template_name / attachment_filenames /
    custom_blocks_variation_id / transactional_message_id / email_priority come from our send
    ledger (app.email_sends, left-joined on email_log_id; the ledger wins), else null / null /
    false / the provider's template name / null / null / null / null. The ledger's own events
    (provider 'mailtrail') are in fct_email_events, so a ledger 'sent' with no provider event yet
    is a log in state sent, and a dry run is a pending log.
-#}
{%- set delivery_evidence = sql_string_list(delivery_evidence_event_types()) -%}
{#- providers that report on messages sent by another provider (ledger, open tracker) -#}
{%- set non_sending_providers = sql_string_list(['mailtrail', 'tracker']) -%}

-- depends_on: {{ ref('int_email_events__batch') }}

with

events as (

    select * from {{ ref('fct_email_events') }}
    {% if is_incremental() %}
    -- the batch's email logs, whole (index on email_log_id)
    where email_log_id = any(array({{ batch_email_logs_sql() }}))
    {% endif %}

),

email_sends as (

    select * from {{ ref('stg_mailtrail__email_sends') }}

),

classified_events as (

    select
        *,
        event_type in ({{ delivery_evidence }}) as is_delivery_evidence,
        provider not in ({{ non_sending_providers }}) as is_sending_provider,
        event_type = 'opened' and not is_machine_open and not is_duplicate as is_human_open,
        event_type = 'opened' and is_machine_open and not is_duplicate as is_counted_machine_open,
        event_type = 'clicked' and not is_bot_click and not is_duplicate as is_human_click,
        event_type = 'clicked' and is_bot_click and not is_duplicate as is_counted_bot_click,
        -- a bounce without a type counts as undetermined
        case when event_type = 'bounced' then coalesce(bounce_type, 'undetermined') end as bounce_severity,
        -- which event's error describes the log best: the lowest rank, then the latest
        case
            when error_type is null and error_message is null then null
            when event_type = 'rejected' then 1
            when event_type in ('rendering_failed', 'failed') then 2
            when event_type = 'bounced' and coalesce(bounce_type, 'undetermined') = 'hard' then 3
            when event_type = 'bounced' and coalesce(bounce_type, 'undetermined') = 'undetermined' then 4
            when event_type = 'bounced' then 5
            when event_type = 'delivery_delayed' then 6
        end as error_rank
    from events

),

email_log_events as (

    select
        email_log_id,
        -- the sending provider's identity wins over the send ledger's and the open tracker's
        coalesce(min(message_id) filter (where is_sending_provider), min(message_id)) as message_id,
        coalesce(min(provider) filter (where is_sending_provider), min(provider)) as provider,
        max(campaign_name) as campaign_name,
        max(shoot_id) as shoot_id,
        max(template_name) as template_name,
        min(recipient) as recipient,
        max(campaign_id) as campaign_id,
        max(campaign_activity_id) as campaign_activity_id,
        max(treatment_id) as treatment_id,
        max(journey_id) as journey_id,
        max(journey_activity_id) as journey_activity_id,
        max(app_id) as app_id,

        -- state inputs: "has at least one event of this kind"
        coalesce(bool_or(bounce_severity in ('hard', 'undetermined')), false) as has_hard_bounce,
        coalesce(bool_or(bounce_severity = 'soft'), false) as has_soft_bounce,
        coalesce(bool_or(event_type = 'rejected'), false) as has_rejected,
        coalesce(bool_or(event_type in ('rendering_failed', 'failed')), false) as has_failed,
        coalesce(bool_or(is_delivery_evidence), false) as has_delivery_evidence,
        coalesce(bool_or(event_type in ('sent', 'delivery_delayed')), false) as has_sent,
        coalesce(bool_or(event_type = 'skipped'), false) as has_skipped,

        min(occurred_at) filter (where event_type = 'queued') as queued_at,
        min(occurred_at) filter (where event_type = 'sent') as sent_at,
        coalesce(
            min(occurred_at) filter (where event_type = 'delivered'),
            min(occurred_at) filter (where is_delivery_evidence)
        ) as delivered_at,
        min(occurred_at) filter (where event_type = 'bounced') as bounced_at,
        min(occurred_at) filter (where event_type = 'rejected') as dropped_at,
        case
            when bool_or(bounce_severity = 'hard') then 'hard'
            when bool_or(bounce_severity = 'undetermined') then 'undetermined'
            when bool_or(bounce_severity = 'soft') then 'soft'
        end as bounce_type,
        coalesce(bool_or(event_type = 'complained'), false) as complained,
        coalesce(bool_or(event_type = 'unsubscribed'), false) as unsubscribed,
        min(occurred_at) filter (where is_human_open) as first_opened_at,
        cast(count(*) filter (where is_human_open) as integer) as open_count,
        cast(count(*) filter (where is_counted_machine_open) as integer) as machine_open_count,
        min(occurred_at) filter (where is_human_click) as first_clicked_at,
        cast(count(*) filter (where is_human_click) as integer) as click_count,
        cast(count(*) filter (where is_counted_bot_click) as integer) as bot_click_count,
        (
            array_agg(error_type order by error_rank asc, occurred_at desc, event_id asc)
            filter (where error_rank is not null)
        )[1] as error_type,
        (
            array_agg(error_message order by error_rank asc, occurred_at desc, event_id asc)
            filter (where error_rank is not null)
        )[1] as error_message
    from classified_events
    group by email_log_id

),

final as (

    select
        email_log_events.email_log_id,
        email_log_events.message_id,
        email_log_events.provider,
        coalesce(email_sends.campaign_name, email_log_events.campaign_name) as campaign_name,
        coalesce(email_sends.shoot_id, email_log_events.shoot_id) as shoot_id,
        coalesce(email_sends.template_name, email_log_events.template_name) as template_name,
        email_sends.user_id,
        email_sends.account_ref,
        coalesce(email_sends.recipient, email_log_events.recipient) as recipient,
        {{ email_log_state(
            has_hard_bounce='email_log_events.has_hard_bounce',
            has_rejected='email_log_events.has_rejected',
            has_failed='email_log_events.has_failed',
            has_delivery_evidence='email_log_events.has_delivery_evidence',
            has_soft_bounce='email_log_events.has_soft_bounce',
            has_sent='email_log_events.has_sent',
            has_skipped='email_log_events.has_skipped'
        ) }} as state,
        coalesce(email_sends.is_dry_run, false) as is_dry_run,
        email_log_events.queued_at,
        email_log_events.sent_at,
        email_log_events.delivered_at,
        email_log_events.bounced_at,
        email_log_events.dropped_at,
        email_log_events.bounce_type,
        email_log_events.complained,
        email_log_events.unsubscribed,
        email_log_events.open_count > 0 as opened,
        email_log_events.first_opened_at,
        email_log_events.open_count,
        email_log_events.machine_open_count,
        email_log_events.click_count > 0 as clicked,
        email_log_events.first_clicked_at,
        email_log_events.click_count,
        email_log_events.bot_click_count,
        email_log_events.error_type,
        email_log_events.error_message,
        email_log_events.campaign_id,
        email_log_events.campaign_activity_id,
        email_log_events.treatment_id,
        email_log_events.journey_id,
        email_log_events.journey_activity_id,
        email_log_events.app_id,
        email_sends.attachment_filenames,
        email_sends.custom_blocks_variation_id,
        email_sends.transactional_message_id,
        email_sends.email_priority
    from email_log_events
    left join email_sends
        on email_log_events.email_log_id = email_sends.email_log_id

)

select * from final
