{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ stash_batch_days() }}",
            "{{ delete_batch_rows('date_day in (' ~ batch_days_sql() ~ ')') }}",
        ],
        post_hook=["{{ consume_dirty_days() }}"],
    )
}}

{#-
    Opens and clicks per UTC day, campaign and device type (phone, computer, other: the open
    tracker's own, else the parsed user agent). People's opens and clicks (duplicates, machine
    opens and bot clicks left out) with their distinct email logs, and machines' beside them.
    Attribution (campaign_name) is the email log's, 'unattributed' when missing. Incremental
    by UTC day: the days of the batch's events, before and after (as event_geo_daily).
-#}

-- depends_on: {{ ref('int_email_events__day_signatures') }}

with

events as (

    select * from {{ ref('fct_email_events') }}
    {% if is_incremental() %}
    where {{ on_batch_days('occurred_at') }}
    {% endif %}

),

email_logs as (

    select * from {{ ref('email_logs') }}

),

engagement as (

    select
        events.email_log_id,
        cast(events.occurred_at at time zone 'UTC' as date) as date_day,
        coalesce(email_logs.campaign_name, 'unattributed') as campaign_name,
        coalesce(events.device_type, 'other') as device_type,
        events.event_type = 'opened' and not events.is_machine_open and not events.is_duplicate
            as is_human_open,
        events.event_type = 'opened' and events.is_machine_open and not events.is_duplicate
            as is_machine_open,
        events.event_type = 'clicked' and not events.is_bot_click and not events.is_duplicate
            as is_human_click,
        events.event_type = 'clicked' and events.is_bot_click and not events.is_duplicate
            as is_bot_click
    from events
    left join email_logs
        on events.email_log_id = email_logs.email_log_id
    where events.event_type in ('opened', 'clicked')

),

final as (

    select
        date_day,
        campaign_name,
        device_type,
        cast(count(*) filter (where is_human_open) as integer) as opens,
        cast(count(distinct email_log_id) filter (where is_human_open) as integer) as unique_opens,
        cast(count(*) filter (where is_human_click) as integer) as clicks,
        cast(count(distinct email_log_id) filter (where is_human_click) as integer) as unique_clicks,
        cast(count(*) filter (where is_machine_open) as integer) as machine_opens,
        cast(count(*) filter (where is_bot_click) as integer) as bot_clicks
    from engagement
    group by date_day, campaign_name, device_type

)

select * from final
