{#- A record with several rows (one per recipient) stores its payload once, in raw.pinpoint_payloads
    (written with pinpoint_events, by the same ingestion asset), which its rows name by payload_hash;
    a record with one row keeps its payload in the row. -#}
{%- set shared_payloads = source('pinpoint', 'pinpoint_events').incorporate(
    path={'identifier': 'pinpoint_payloads'}
) -%}

with

source as (

    select
        events.event_key,
        events.message_id,
        events.event_type,
        events.occurred_at,
        events.event_timestamp,
        events.recipient,
        events.sender,
        events.subject,
        events.app_id,
        events.client_id,
        events.campaign_id,
        events.campaign_activity_id,
        events.treatment_id,
        events.journey_id,
        events.journey_run_id,
        events.journey_activity_id,
        events.feedback,
        events.campaign_name,
        events.app_name,
        events.shoot_id,
        events.email_log_id,
        events.bounce_type,
        events.bounce_subtype,
        events.complaint_type,
        events.error_message,
        events.link_url,
        events.ip_address,
        events.user_agent,
        coalesce(events.payload, payloads.payload) as payload,
        events.source_object,
        events.source_line,
        events.loaded_at,
        events.load_xid
    from {{ source('pinpoint', 'pinpoint_events') }} as events
    left join {{ shared_payloads }} as payloads
        on events.payload_hash = payloads.payload_hash

),

renamed as (

    select
        event_key as event_id,
        event_type as provider_event_type,
        message_id,
        -- arrival time: Pinpoint's event_timestamp is the send time, the same for every event
        occurred_at,
        payload,
        loaded_at,
        load_xid,
        'pinpoint' as provider,
        nullif(trim(email_log_id), '') as tagged_email_log_id,
        lower(trim(recipient)) as recipient,
        nullif(trim(campaign_name), '') as tagged_campaign_name,
        nullif(trim(app_name), '') as app_name,
        -- Pinpoint's own attribution (the record's attributes and application objects)
        nullif(trim(campaign_id), '') as campaign_id,
        nullif(trim(campaign_activity_id), '') as campaign_activity_id,
        nullif(trim(treatment_id), '') as treatment_id,
        nullif(trim(journey_id), '') as journey_id,
        nullif(trim(journey_activity_id), '') as journey_activity_id,
        nullif(trim(app_id), '') as app_id,
        nullif(trim(shoot_id), '') as shoot_id,
        nullif(bounce_subtype, '') as bounce_subtype,
        nullif(complaint_type, '') as complaint_type,
        nullif(error_message, '') as error_message,
        nullif(link_url, '') as link_url,
        nullif(trim(ip_address), '') as ip_address,
        nullif(trim(user_agent), '') as user_agent
    from source

),

final as (

    select
        event_id,
        provider,
        provider_event_type,
        message_id,
        recipient,
        occurred_at,
        -- our tag names the campaign; a Pinpoint campaign or journey sent without it is
        -- attributed to its Pinpoint campaign id, else its journey id (never unattributed)
        coalesce(tagged_campaign_name, campaign_id, journey_id) as campaign_name,
        app_name,
        shoot_id,
        bounce_subtype,
        complaint_type,
        error_message,
        link_url,
        ip_address,
        user_agent,
        loaded_at,
        load_xid,
        coalesce(
            tagged_email_log_id,
            {{ surrogate_key(['provider', 'message_id', 'recipient']) }}
        ) as email_log_id,
        cast(null as text) as template_name,
        case provider_event_type
            when '_email.hardbounce' then 'hard'
            when '_email.softbounce' then 'soft'
        end as bounce_type,
        case provider_event_type
            when '_email.hardbounce' then 'bounce'
            when '_email.softbounce' then 'bounce'
            when '_email.rejected' then 'reject'
            when '_email.rendering_failure' then 'rendering_failure'
        end as error_type,
        -- Pinpoint publishes no geolocation, no duplicate or prefetch flag
        cast(null as text) as device_type,
        cast(null as text) as geo_country,
        cast(null as text) as geo_region,
        cast(null as text) as geo_city,
        cast(null as double precision) as latitude,
        cast(null as double precision) as longitude,
        false as is_duplicate,
        false as is_provider_suppressed,
        campaign_id,
        campaign_activity_id,
        treatment_id,
        journey_id,
        journey_activity_id,
        app_id,
        payload as event_data
    from renamed

)

select * from final
