{#
    Every event with what the enrichment assets learnt about its user agent and IP address
    (enrich.*, parsed / looked up once per distinct value): device type, OS, client, bot flag,
    plausible client; geolocation (the provider's wins when present); and whether the address is
    one of Apple's proxies (seed apple_proxy_ranges). Events whose user agent or address was not
    enriched yet fall back to the regex device type and the provider's geolocation.
    events_from: what to enrich, a relation or a parenthesised, aliased subquery
    (fct_email_events' incremental batch).
#}
{% macro enriched_email_events(events_from) -%}
with

events as (

    select * from {{ events_from }}

),

user_agents as (

    select * from {{ ref('stg_enrich__user_agents') }}

),

ip_addresses as (

    select * from {{ ref('stg_enrich__ip_addresses') }}

),

apple_proxy_ranges as (

    select * from {{ ref('apple_proxy_ranges') }}

),

apple_proxy_ips as (

    select distinct ip_addresses.ip_address
    from ip_addresses
    inner join apple_proxy_ranges
        on network_subeq(ip_addresses.ip, apple_proxy_ranges.cidr)

),

final as (

    select
        events.event_id,
        events.email_log_id,
        events.message_id,
        events.provider,
        events.provider_event_type,
        events.event_type,
        events.occurred_at,
        events.recipient,
        events.campaign_name,
        events.app_name,
        events.shoot_id,
        events.template_name,
        events.bounce_type,
        events.bounce_subtype,
        events.complaint_type,
        events.error_type,
        events.error_message,
        events.link_url,
        events.ip_address,
        events.user_agent,
        {{ engagement_device_type(
            'events.device_type', 'user_agents.device_type', 'events.user_agent', 'events.event_type'
        ) }} as device_type,
        user_agents.os,
        user_agents.client,
        coalesce(user_agents.is_bot, false)
        or {{ is_bot_user_agent('events.user_agent') }} as is_bot_user_agent,
        {{ has_plausible_client(
            'events.user_agent', 'user_agents.user_agent_md5', 'user_agents.client', 'user_agents.os'
        ) }} as has_plausible_client,
        apple_proxy_ips.ip_address is not null as is_apple_proxy_ip,
        {{ engagement_geo('geo_country', 'events', 'ip_addresses') }} as geo_country,
        {{ engagement_geo('geo_region', 'events', 'ip_addresses') }} as geo_region,
        {{ engagement_geo('geo_city', 'events', 'ip_addresses') }} as geo_city,
        {{ engagement_geo('latitude', 'events', 'ip_addresses') }} as latitude,
        {{ engagement_geo('longitude', 'events', 'ip_addresses') }} as longitude,
        case
            when events.geo_country is not null then 'provider'
            when ip_addresses.geo_country is not null then 'geoip'
        end as geo_source,
        events.is_duplicate,
        events.is_provider_suppressed,
        events.first_delivered_at,
        events.campaign_id,
        events.campaign_activity_id,
        events.treatment_id,
        events.journey_id,
        events.journey_activity_id,
        events.app_id,
        events.event_data,
        events.loaded_at
    from events
    left join user_agents
        on md5(events.user_agent) = user_agents.user_agent_md5
    left join ip_addresses
        on events.ip_address = ip_addresses.ip_address
    left join apple_proxy_ips
        on events.ip_address = apple_proxy_ips.ip_address

)

select * from final
{%- endmacro %}
