{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ stash_batch_days() }}",
            "{{ delete_batch_rows('date_day in (' ~ batch_days_sql() ~ ')') }}",
        ],
        post_hook=["{{ consume_dirty_days() }}"],
    )
}}

{#-
    Events per UTC day, event type and geolocation: the open tracker's, else the GeoIP database's
    (MAILTRAIL_GEOIP_DATABASE), null when neither knows. People only: duplicates, machine opens
    and bot clicks are left out. events counts event rows; unique_messages counts distinct email
    logs within the row (not additive over days).
-#}

-- depends_on: {{ ref('int_email_events__day_signatures') }}

with

events as (

    select * from {{ ref('fct_email_events') }}

),

{% if is_incremental() %}
-- the events of the UTC days queued for this mart: only their rows change
day_events as (

    select events.*
    from events
    where {{ on_batch_days('events.occurred_at') }}

),
{% endif %}

final as (

    select
        cast(occurred_at at time zone 'UTC' as date) as date_day,
        event_type,
        geo_country,
        geo_region,
        geo_city,
        cast(count(*) as integer) as events,
        cast(count(distinct email_log_id) as integer) as unique_messages
    from {% if is_incremental() %}day_events{% else %}events{% endif %}
    where not is_duplicate and not is_machine_open and not is_bot_click
    group by
        cast(occurred_at at time zone 'UTC' as date),
        event_type,
        geo_country,
        geo_region,
        geo_city

)

select * from final
