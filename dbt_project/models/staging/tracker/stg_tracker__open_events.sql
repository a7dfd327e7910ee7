with

source as (

    select * from {{ source('tracker', 'tracker_open_events') }}

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
        nullif(geo_country, '') as geo_country,
        nullif(geo_region, '') as geo_region,
        nullif(geo_city, '') as geo_city,
        latitude,
        longitude,
        is_duplicate,
        -- a sender-suppressed open is a prefetch / machine open
        is_sender_suppressed as is_provider_suppressed,
        payload as event_data,
        loaded_at
    from source

)

select * from final
