{#-
    message_id: the RFC Message-ID when the event carries it; an event carrying only Emailit's
    email_id takes the Message-ID of another event of the same email_id, else 'emailit:<email_id>'.
    So every event of one email has the same message_id (and the same surrogate email_log_id).
-#}

{#- A record with several rows (one per recipient) stores its payload once, in raw.emailit_payloads
    (written with emailit_events, by the same ingestion asset), which its rows name by payload_hash;
    a record with one row keeps its payload in the row. -#}
{%- set shared_payloads = source('emailit', 'emailit_events').incorporate(
    path={'identifier': 'emailit_payloads'}
) -%}

with

source as (

    select
        events.event_key,
        events.event_id,
        events.event_uuid,
        events.event_type,
        events.occurred_at,
        events.created_at,
        events.updated_at,
        events.message_id,
        events.email_id,
        events.email_token,
        events.recipient,
        events.sender,
        events.subject,
        events.status,
        events.details,
        events.tag,
        events.campaign_name,
        events.app_name,
        events.shoot_id,
        events.email_log_id,
        events.link_url,
        events.ip_address,
        events.user_agent,
        coalesce(events.payload, payloads.payload) as payload,
        events.source_object,
        events.source_line,
        events.loaded_at,
        events.load_xid
    from {{ source('emailit', 'emailit_events') }} as events
    left join {{ shared_payloads }} as payloads
        on events.payload_hash = payloads.payload_hash

),

renamed as (

    select
        event_key as event_id,
        event_type as provider_event_type,
        occurred_at,
        payload,
        loaded_at,
        load_xid,
        'emailit' as provider,
        nullif(trim(message_id), '') as raw_message_id,
        email_id as raw_email_id,
        nullif(trim(email_id), '') as emailit_email_id,
        nullif(trim(email_log_id), '') as tagged_email_log_id,
        lower(trim(recipient)) as recipient,
        nullif(trim(campaign_name), '') as campaign_name,
        nullif(trim(app_name), '') as app_name,
        nullif(trim(shoot_id), '') as shoot_id,
        nullif(details, '') as details,
        nullif(link_url, '') as link_url,
        nullif(trim(ip_address), '') as ip_address,
        nullif(trim(user_agent), '') as user_agent
    from source

),

with_message_id as (

    select
        renamed.*,
        coalesce(
            renamed.raw_message_id,
            -- the Message-ID of another event of the same Emailit email id (index on email_id,
            -- so a batch of new rows never reads the whole table)
            (
                select min(nullif(trim(siblings.message_id), '')) as email_message_id
                from {{ source('emailit', 'emailit_events') }} as siblings
                where siblings.email_id = renamed.raw_email_id
            ),
            'emailit:' || renamed.emailit_email_id
        ) as message_id
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
        link_url,
        ip_address,
        user_agent,
        loaded_at,
        load_xid,
        raw_email_id as emailit_email_id,
        coalesce(
            tagged_email_log_id,
            {{ surrogate_key(['provider', 'message_id', 'recipient']) }}
        ) as email_log_id,
        cast(null as text) as template_name,
        -- hardfail: refused by the receiving server; bounce: bounced back after acceptance
        case provider_event_type
            when 'email.delivery.hardfail' then 'hard'
            when 'email.delivery.bounce' then 'undetermined'
        end as bounce_type,
        cast(null as text) as bounce_subtype,
        cast(null as text) as complaint_type,
        case provider_event_type
            when 'email.delivery.hardfail' then 'bounce'
            when 'email.delivery.bounce' then 'bounce'
            when 'email.delivery.softfail' then 'delivery_delay'
            when 'email.delivery.delayed' then 'delivery_delay'
            when 'email.delivery.error' then 'failed'
        end as error_type,
        case
            when
                provider_event_type in (
                    'email.delivery.hardfail',
                    'email.delivery.bounce',
                    'email.delivery.softfail',
                    'email.delivery.delayed',
                    'email.delivery.error'
                )
                then details
        end as error_message,
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
    from with_message_id

)

select * from final
