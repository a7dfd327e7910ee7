{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ stash_day_signatures() }}",
            "{{ delete_batch_rows('event_id = any(array(' ~ batch_event_ids_sql() ~ '))') }}",
        ],
        post_hook=["{{ queue_changed_days() }}", "{{ analyze_after_full_build() }}"],
        indexes=[{'columns': ['event_id'], 'unique': True}],
    )
}}

{#-
    One row per event of fct_email_events: its UTC day and a checksum of everything the daily
    marts read of it (its flags, geolocation, device and link; its email log's attribution and
    dry-run status; which of campaign_daily_stats' firsts and which first click per link it is).
    A day's rows in the daily marts are a function of the signatures of that day's events, so a
    day none of whose signatures changed needs no recomputing: the post-hook compares the batch's
    signatures before and after and queues only the days that differ (macros/daily_marts.sql).
    A late click on a ten-day-old message changes the click's day, not the message's send day.
-#}

{%- set metrics = daily_stats_metrics() %}

-- depends_on: {{ ref('int_email_events__batch') }}

with

-- what the signatures and the firsts read, not the payloads: this CTE is read three times, so
-- PostgreSQL materialises it, whole (with every column, 18 GB of temporary files at 10M events)
events as (

    select
        event_id,
        email_log_id,
        provider,
        event_type,
        occurred_at,
        bounce_type,
        is_duplicate,
        is_machine_open,
        is_bot_click,
        link_url,
        device_type,
        geo_country,
        geo_region,
        geo_city,
        campaign_name,
        app_name
    from {{ ref('fct_email_events') }}
    {% if is_incremental() %}
    where event_id = any(array({{ batch_event_ids_sql() }}))
    {% endif %}

),

email_logs as (

    select
        email_log_id,
        campaign_name
    from {{ ref('email_logs') }}
    {% if is_incremental() %}
    where email_log_id = any(array({{ batch_email_logs_sql() }}))
    {% endif %}

),

dry_run_email_logs as (

    select email_log_id from {{ ref('stg_mailtrail__email_sends') }}
    where is_dry_run

),

-- campaign_daily_stats' view of each email log: its attribution and first event per metric
email_log_firsts as (

    {{ email_log_first_events('events') }}

),

-- link_clicks_daily's unique clicks: each email log's first human click per link
first_human_clicks as (

    select distinct on (email_log_id, link_url) event_id
    from events
    where
        event_type = 'clicked'
        and link_url is not null
        and not is_bot_click
        and not is_duplicate
    order by email_log_id asc, link_url asc, occurred_at asc, event_id asc

),

signed as (

    select
        events.event_id,
        cast(events.occurred_at at time zone 'UTC' as date) as date_day,
        -- a row's text form tells null from '' and keeps the order: one checksum of the lot
        cast(md5(cast(row(
            events.email_log_id,
            events.occurred_at,
            events.event_type,
            events.is_duplicate,
            events.is_machine_open,
            events.is_bot_click,
            events.link_url,
            events.device_type,
            events.geo_country,
            events.geo_region,
            events.geo_city,
            email_logs.campaign_name,
            dry_run_email_logs.email_log_id is not null,
            first_human_clicks.event_id is not null,
            email_log_firsts.campaign_name,
            email_log_firsts.app_name,
            -- which firsts it is (a log without such an event: false, as for its other events)
            array[
                {%- for metric in metrics %}
                coalesce(events.occurred_at = email_log_firsts.first_{{ metric }}_at, false)
                {%- if not loop.last %},{% endif %}
                {%- endfor %}
            ]
        ) as text)) as uuid) as signature
    from events
    inner join email_log_firsts
        on events.email_log_id = email_log_firsts.email_log_id
    left join email_logs
        on events.email_log_id = email_logs.email_log_id
    left join dry_run_email_logs
        on events.email_log_id = dry_run_email_logs.email_log_id
    left join first_human_clicks
        on events.event_id = first_human_clicks.event_id

),

final as (

    select
        event_id,
        date_day,
        signature
    from signed

)

select * from final
