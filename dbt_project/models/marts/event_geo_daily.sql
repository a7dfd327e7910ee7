{#-
    Events per UTC day, event type and geolocation: the open tracker's, else the GeoIP database's
    (MAILTRAIL_GEOIP_DATABASE), null when neither knows. People only: duplicates, machine opens
    and bot clicks are left out. events counts event rows; unique_messages counts distinct email
    logs within the row (not additive over days).
-#}

with

events as (

    select * from {{ ref('fct_email_events') }}

),

final as (

    select
        cast(occurred_at at time zone 'UTC' as date) as date_day,
        event_type,
        geo_country,
        geo_region,
        geo_city,
        cast(count(*) as integer) as events,
        cast(count(distinct email_log_id) as integer) as unique_messages
    from events
    where not is_duplicate and not is_machine_open and not is_bot_click
    group by
        cast(occurred_at at time zone 'UTC' as date),
        event_type,
        geo_country,
        geo_region,
        geo_city

)

select * from final
