{#-
    The send ledger as provider events (provider 'mailtrail', macros/provider_event_columns.sql).
    Each ledger row gives at most two events with STABLE ids, so an update in place replaces them
    (fct_email_events deletes+inserts on event_id):
      <email_log_id>:created  queued at created_at (skipped / dropped at created_at for those rows)
      <email_log_id>:outcome  sent at sent_at, failed / unknown at updated_at (only those statuses)
    loaded_at = the row's updated_at, so an updated row re-processes its whole email log.
-#}

with

email_sends as (

    select * from {{ ref('stg_mailtrail__email_sends') }}

),

slots as (

    select
        email_sends.*,
        ledger_events.slot,
        ledger_events.provider_event_type,
        ledger_events.occurred_at
    from email_sends
    cross join
        lateral (
            values
            (
                'created',
                case when email_sends.status in ('skipped', 'dropped') then email_sends.status else 'queued' end,
                email_sends.created_at
            ),
            (
                'outcome',
                case when email_sends.status in ('sent', 'failed', 'unknown') then email_sends.status end,
                case
                    when email_sends.status = 'sent' then coalesce(email_sends.sent_at, email_sends.updated_at)
                    else email_sends.updated_at
                end
            )
        ) as ledger_events (slot, provider_event_type, occurred_at)
    where ledger_events.provider_event_type is not null

),

final as (

    select
        email_log_id || ':' || slot as event_id,
        'mailtrail' as provider,
        provider_event_type,
        message_id,
        email_log_id,
        recipient,
        occurred_at,
        campaign_name,
        app_name,
        shoot_id,
        template_name,
        cast(null as text) as bounce_type,
        cast(null as text) as bounce_subtype,
        cast(null as text) as complaint_type,
        case
            when provider_event_type in ('failed', 'dropped', 'skipped', 'unknown')
                then coalesce(error_type, provider_event_type)
        end as error_type,
        case
            when provider_event_type in ('failed', 'dropped', 'skipped', 'unknown')
                then coalesce(error_message, reason)
        end as error_message,
        cast(null as text) as link_url,
        cast(null as text) as ip_address,
        cast(null as text) as user_agent,
        cast(null as text) as device_type,
        cast(null as text) as geo_country,
        cast(null as text) as geo_region,
        cast(null as text) as geo_city,
        cast(null as double precision) as latitude,
        cast(null as double precision) as longitude,
        false as is_duplicate,
        false as is_provider_suppressed,
        {{ no_provider_attribution() }}
        jsonb_build_object(
            'status', status,
            'reason', reason,
            'send_provider', send_provider,
            'user_id', user_id,
            'is_dry_run', is_dry_run
        ) as event_data,
        updated_at as loaded_at,
        load_xid
    from slots

)

select * from final
