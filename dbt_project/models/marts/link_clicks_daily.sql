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
    Clicks per UTC day, campaign and link. clicks: human (non-bot, non-duplicate) click events;
    unique_clicks: email logs whose FIRST human click on that link falls on that day (additive over
    days); bot_clicks: click events flagged as scanners / bots. Clicks without a link are left out.
-#}

-- depends_on: {{ ref('int_email_events__day_signatures') }}

with

-- not materialized: each use below reads its rows by index (occurred_at, email_log_id)
events as not materialized (

    select * from {{ ref('fct_email_events') }}

),

email_logs as (

    select * from {{ ref('email_logs') }}

),

{%- set every_email_log = reads_every_email_log() %}
{% if is_incremental() %}
-- the UTC days queued for this mart: only their rows change (macros/daily_marts.sql)
batch_days as (

    {{ batch_days_sql() }}

),

-- the email logs with a click on one of those days, with all their clicks: whether a click is
-- the first on its link depends on the earlier ones
click_email_logs as (

    select distinct events.email_log_id
    from events
    where
        events.event_type = 'clicked'
        and {{ on_batch_days('events.occurred_at') }}

),
{% endif %}

clicks as (

    select
        events.event_id,
        events.email_log_id,
        events.link_url,
        events.occurred_at,
        events.is_bot_click,
        not events.is_bot_click and not events.is_duplicate as is_human_click,
        coalesce(email_logs.campaign_name, 'unattributed') as campaign_name,
        cast(events.occurred_at at time zone 'UTC' as date) as date_day
    from events
    left join email_logs
        on events.email_log_id = email_logs.email_log_id
    where
        events.event_type = 'clicked'
        and events.link_url is not null
    {% if is_incremental() and not every_email_log %}
        and events.email_log_id = any(array(select click_email_logs.email_log_id from click_email_logs))
    {% endif %}

),

-- each click with whether it is the email log's first human click on its link: a window over the
-- clicks, not a join of the clicks with their firsts. PostgreSQL cannot estimate how many clicks
-- the batch days hold (their bounds are parameters); planned for one row, that join ran as a
-- nested loop over every pair of clicks (minutes at 1M events, right after a full refresh).
ranked_clicks as (

    select
        *,
        is_human_click
        and row_number() over (
            partition by email_log_id, link_url, is_human_click
            order by occurred_at asc, event_id asc
        ) = 1 as is_first_human_click
    from clicks

),

final as (

    select
        clicks.date_day,
        clicks.campaign_name,
        clicks.link_url,
        cast(count(*) filter (where clicks.is_human_click) as integer) as clicks,
        cast(count(*) filter (where clicks.is_first_human_click) as integer) as unique_clicks,
        cast(count(*) filter (where clicks.is_bot_click) as integer) as bot_clicks
    from ranked_clicks as clicks
    {% if is_incremental() %}
    where clicks.date_day in (select batch_days.date_day from batch_days)
    {% endif %}
    group by clicks.date_day, clicks.campaign_name, clicks.link_url

)

select * from final
