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

events as not materialized (

    select * from {{ events_from }}

),

-- The rules that compare an event with its neighbours (repeats, click bursts) are windows over
-- the email log's opens and clicks. They are computed on these narrow rows and joined back by
-- event_id, so no sort carries the events' payloads: sorting the wide rows (about 1.6 KB each,
-- event_data included) wrote 11 GB of temporary files at 1M events and filled the disk at 10M
-- (docs/incremental-builds.md, "Full refresh at 10M events"). `events` is read twice, not
-- materialized: the second read is column-pruned to these few columns.
engagements as (

    select
        event_id,
        email_log_id,
        event_type,
        occurred_at,
        ip_address,
        user_agent,
        link_url
    from events
    where event_type in ('opened', 'clicked')

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
    from engagements
    where
        event_type = 'clicked'
        and email_log_id is not null
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

repeats as (

    select
        event_id,
        {{ is_repeated_engagement() }} as is_repeat
    from engagements

),

-- one row per event_id already; the group by tells the planner so. Without it PostgreSQL
-- estimates 200 distinct event_ids (it has no statistics through the union and windows), prices
-- the join below as many-to-many and sorts every wide event for a merge join instead of hashing
-- these few columns.
engagement_flags as (

    select
        repeats.event_id,
        bool_or(repeats.is_repeat) as is_repeat,
        max(click_bursts.burst_links) as burst_links
    from repeats
    left join click_bursts
        on repeats.event_id = click_bursts.event_id
    group by repeats.event_id

),

with_flags as (

    select
        events.*,
        coalesce(engagement_flags.is_repeat, false) as is_repeat,
        engagement_flags.burst_links
    from events
    left join engagement_flags
        on events.event_id = engagement_flags.event_id

),

reasons as (

    select
        *,
        coalesce(is_duplicate, false) or is_repeat as is_duplicate_event,
        {{ machine_open_reason() }} as machine_open_reason,
        {{ bot_click_reason() }} as bot_click_reason
    from with_flags

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
