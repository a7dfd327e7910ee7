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
click_bursts as (

    select
        clicks.event_id,
        count(distinct nearby.link_url) as burst_links
    from clicks
    inner join clicks as nearby
        on
            clicks.email_log_id = nearby.email_log_id
            and nearby.occurred_at
            between clicks.occurred_at - make_interval(secs => {{ var('click_burst_seconds') }})
            and clicks.occurred_at + make_interval(secs => {{ var('click_burst_seconds') }})
    group by clicks.event_id

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
