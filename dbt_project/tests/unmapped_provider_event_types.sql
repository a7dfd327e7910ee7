-- Provider event types that event_type_map does not list: such events are kept in
-- fct_email_events as event_type 'unknown' (never dropped) and no mart counts them. A warning,
-- not an error: a provider adding a type must not stop the build; one row per unmapped
-- (provider, provider_event_type) with how many events carry it and when it was last seen, so
-- the fix (a row in seeds/event_type_map.csv) is obvious. In Dagster it is a check on
-- fct_email_events.

{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_email_events'}}}) }}

-- a production build reads the batch's events only (macros/data_test_scope.sql):
-- depends_on: {{ ref('int_email_events__batch') }}

with

fct_email_events as (

    select * from {{ ref('fct_email_events') }}
    {{ batch_rows_only('event_id') }}

),

final as (

    select
        provider,
        provider_event_type,
        count(*) as events,
        max(occurred_at) as last_occurred_at
    from fct_email_events
    where event_type = 'unknown'
    group by provider, provider_event_type

)

select * from final
