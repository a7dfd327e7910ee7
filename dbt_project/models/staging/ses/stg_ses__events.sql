{#- A record with several rows (one per recipient) stores its payload once, in raw.ses_payloads
    (written with ses_events, by the same ingestion asset), which its rows name by payload_hash;
    a record with one row keeps its payload in the row. -#}
{%- set shared_payloads = source('ses', 'ses_events').incorporate(
    path={'identifier': 'ses_payloads'}
) -%}

with

source as (

    select
        events.event_key,
        events.message_id,
        events.event_type,
        events.occurred_at,
        events.recipient,
        events.sender,
        events.campaign_name,
        events.app_name,
        events.shoot_id,
        events.email_log_id,
        events.bounce_type,
        events.bounce_subtype,
        events.complaint_type,
        events.link_url,
        events.ip_address,
        events.user_agent,
        coalesce(events.payload, payloads.payload) as payload,
        events.source_object,
        events.source_line,
        events.loaded_at,
        events.load_xid
    from {{ source('ses', 'ses_events') }} as events
    left join {{ shared_payloads }} as payloads
        on events.payload_hash = payloads.payload_hash

),

renamed as (

    select
        event_key as event_id,
        event_type as provider_event_type,
        message_id,
        occurred_at,
        payload,
        loaded_at,
        load_xid,
        'ses' as provider,
        nullif(trim(email_log_id), '') as tagged_email_log_id,
        lower(trim(recipient)) as recipient,
        nullif(trim(campaign_name), '') as campaign_name,
        nullif(trim(app_name), '') as app_name,
        nullif(trim(shoot_id), '') as shoot_id,
        payload #>> '{failure,templateName}' as template_name,
        case bounce_type
            when 'Permanent' then 'hard'
            when 'Transient' then 'soft'
            when 'Undetermined' then 'undetermined'
        end as bounce_type,
        nullif(bounce_subtype, '') as bounce_subtype,
        nullif(complaint_type, '') as complaint_type,
        nullif(link_url, '') as link_url,
        nullif(trim(ip_address), '') as ip_address,
        nullif(trim(user_agent), '') as user_agent,
        -- per-recipient details of a multi-recipient event; this row's recipient is picked below
        case
            when event_type = 'Bounce' then payload #> '{bounce,bouncedRecipients}'
            when event_type = 'DeliveryDelay' then payload #> '{deliveryDelay,delayedRecipients}'
        end as recipient_details
    from source

),

with_recipient_detail as (

    select
        *,
        -- the element whose emailAddress is this row's recipient, or the only element; evaluated
        -- for bounces and delays only
        case
            when jsonb_typeof(recipient_details) = 'array'
                then (
                    select details.detail
                    from jsonb_array_elements(renamed.recipient_details) with ordinality as details (detail, position)
                    where
                        lower(details.detail ->> 'emailAddress') = renamed.recipient
                        or jsonb_array_length(renamed.recipient_details) = 1
                    order by details.position
                    limit 1
                )
        end as recipient_detail
    from renamed

),

final as (

    select
        event_id,
        provider,
        provider_event_type,
        message_id,
        recipient,
        occurred_at,
        campaign_name,
        app_name,
        shoot_id,
        template_name,
        bounce_type,
        bounce_subtype,
        complaint_type,
        link_url,
        ip_address,
        user_agent,
        loaded_at,
        load_xid,
        coalesce(
            tagged_email_log_id,
            {{ surrogate_key(['provider', 'message_id', 'recipient']) }}
        ) as email_log_id,
        case provider_event_type
            when 'Bounce' then 'bounce'
            when 'Reject' then 'reject'
            when 'Rendering Failure' then 'rendering_failure'
            when 'DeliveryDelay' then 'delivery_delay'
        end as error_type,
        case provider_event_type
            when 'Bounce'
                then coalesce(
                    recipient_detail ->> 'diagnosticCode',
                    recipient_detail ->> 'status',
                    payload #>> '{bounce,bounceSubType}'
                )
            when 'Reject' then payload #>> '{reject,reason}'
            when 'Rendering Failure' then payload #>> '{failure,errorMessage}'
            when 'DeliveryDelay'
                then nullif(
                    concat_ws(
                        ': ',
                        payload #>> '{deliveryDelay,delayType}',
                        recipient_detail ->> 'diagnosticCode'
                    ),
                    ''
                )
        end as error_message,
        -- SES publishes no geolocation, no duplicate or prefetch flag
        cast(null as text) as device_type,
        cast(null as text) as geo_country,
        cast(null as text) as geo_region,
        cast(null as text) as geo_city,
        cast(null as double precision) as latitude,
        cast(null as double precision) as longitude,
        false as is_duplicate,
        false as is_provider_suppressed,
        {{ no_provider_attribution() }}
        payload as event_data
    from with_recipient_detail

)

select * from final
