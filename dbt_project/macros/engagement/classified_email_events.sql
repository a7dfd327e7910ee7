{#
    Every event with Mailtrail's engagement rules applied (macros/engagement/, docs/engagement.md):
    is_duplicate, is_machine_open and is_bot_click, and the rule that decided (machine_open_reason,
    bot_click_reason). Every rule looks only at events of the same email log, so
    fct_email_events can re-process whole email logs incrementally.
    events_from: enriched events (enriched_email_events' columns), a relation or a
    parenthesised, aliased subquery; whole email logs.
#}
{% macro classified_email_events(events_from) -%}
with

events as (

    select * from {{ events_from }}

),

clicks as (

    select
        event_id,
        email_log_id,
        link_url,
        occurred_at
    from events
    where event_type = 'clicked'

),

-- how many different links of the message were clicked within click_burst_seconds of each click
-- (this one included): the links of the email log's clicks in a window frame of that range, one
-- sort of the clicks. Not a self-join of the clicks on the range: PostgreSQL runs that as a
-- nested loop when it misestimates an incremental batch (quadratic in the batch's clicks: 2.2 s
-- of a 3.7 s batch at 1M events). Clicks without an email log or a time are in no burst.
click_windows as (

    select
        event_id,
        array_agg(link_url) over (
            partition by email_log_id
            order by occurred_at
            range between
            interval '{{ var('click_burst_seconds') | float }} seconds' preceding
            and interval '{{ var('click_burst_seconds') | float }} seconds' following
        ) as nearby_link_urls
    from clicks
    where
        email_log_id is not null
        and occurred_at is not null

),

click_bursts as (

    select
        event_id,
        (
            select count(distinct nearby.link_url)
            from unnest(click_windows.nearby_link_urls) as nearby (link_url)
        ) as burst_links
    from click_windows

),

with_bursts as (

    select
        events.*,
        click_bursts.burst_links
    from events
    left join click_bursts
        on events.event_id = click_bursts.event_id

),

reasons as (

    select
        *,
        {{ is_duplicate_event() }} as is_duplicate_event,
        {{ machine_open_reason() }} as machine_open_reason,
        {{ bot_click_reason() }} as bot_click_reason
    from with_bursts

),

final as (

    select
        event_id,
        email_log_id,
        message_id,
        provider,
        provider_event_type,
        event_type,
        occurred_at,
        recipient,
        campaign_name,
        app_name,
        shoot_id,
        template_name,
        bounce_type,
        bounce_subtype,
        complaint_type,
        error_type,
        error_message,
        link_url,
        ip_address,
        user_agent,
        device_type,
        os,
        client,
        geo_country,
        geo_region,
        geo_city,
        latitude,
        longitude,
        geo_source,
        is_duplicate_event as is_duplicate,
        machine_open_reason is not null as is_machine_open,
        machine_open_reason,
        bot_click_reason is not null as is_bot_click,
        bot_click_reason,
        campaign_id,
        campaign_activity_id,
        treatment_id,
        journey_id,
        journey_activity_id,
        app_id,
        event_data,
        loaded_at
    from reasons

)

select * from final
{%- endmacro %}
