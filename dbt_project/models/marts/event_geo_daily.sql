{#-
    Events per UTC day, event type and geolocation (geo columns are null when the provider gives
    none, e.g. SES). events counts every event row; unique_messages counts distinct email logs
    within the row (not additive over days).
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
    group by
        cast(occurred_at at time zone 'UTC' as date),
        event_type,
        geo_country,
        geo_region,
        geo_city

)

select * from final
