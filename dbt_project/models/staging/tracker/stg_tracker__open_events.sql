{#- A record with several rows (one per recipient) stores its payload once, in raw.tracker_payloads
    (written with tracker_open_events, by the same ingestion asset), which its rows name by payload_hash;
    a record with one row keeps its payload in the row. -#}
{%- set shared_payloads = source('tracker', 'tracker_open_events').incorporate(
    path={'identifier': 'tracker_payloads'}
) -%}

with

source as (

    select
        events.event_key,
        events.tracker_event_id,
        events.email_id,
        events.user_id,
        events.recipient,
        events.opened_at,
        events.ip_address,
        events.user_agent,
        events.geo_country,
        events.geo_region,
        events.geo_city,
        events.latitude,
        events.longitude,
        events.device_type,
        events.is_duplicate,
        events.is_sender_suppressed,
        events.suppression_reason,
        coalesce(events.payload, payloads.payload) as payload,
        events.source_object,
        events.source_line,
        events.loaded_at,
        events.load_xid
    from {{ source('tracker', 'tracker_open_events') }} as events
    left join {{ shared_payloads }} as payloads
        on events.payload_hash = payloads.payload_hash

),

final as (

    select
        event_key as event_id,
        'tracker' as provider,
        'open' as provider_event_type,
        -- the tracker sends no mail: its opens attach to the sending provider's message through
        -- email_log_id (the pixel carries it)
        cast(null as text) as message_id,
        lower(trim(email_id)) as email_log_id,
        lower(trim(recipient)) as recipient,
        opened_at as occurred_at,
        cast(null as text) as campaign_name,
        cast(null as text) as app_name,
        cast(null as text) as shoot_id,
        cast(null as text) as template_name,
        cast(null as text) as bounce_type,
        cast(null as text) as bounce_subtype,
        cast(null as text) as complaint_type,
        cast(null as text) as error_type,
        cast(null as text) as error_message,
        cast(null as text) as link_url,
        nullif(trim(ip_address), '') as ip_address,
        nullif(trim(user_agent), '') as user_agent,
        -- phone, computer or other: the tracker's own reading of the user agent (seed 002)
        nullif(trim(device_type), '') as device_type,
        nullif(geo_country, '') as geo_country,
        nullif(geo_region, '') as geo_region,
        nullif(geo_city, '') as geo_city,
        latitude,
        longitude,
        is_duplicate,
        -- a sender-suppressed open is a prefetch / machine open
        is_sender_suppressed as is_provider_suppressed,
        {{ no_provider_attribution() }}
        payload as event_data,
        loaded_at,
        load_xid
    from source

)

select * from final
