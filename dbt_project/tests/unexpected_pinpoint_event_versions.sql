-- Pinpoint's event stream documents event_version so that a consumer "knows when to update the
-- application in response to a schema update" (seed 003). The staging model reads the 3.x
-- schema; a record of another version is still loaded and modelled (nothing lost), and this
-- warning lists the versions seen, how many events carry each and when the last one arrived.
-- In Dagster it is a check on stg_pinpoint__events, run by the nightly job (tag whole_history).

{{ config(
    severity='warn',
    tags=['whole_history'],
    meta={'dagster': {'ref': {'name': 'stg_pinpoint__events'}}},
) }}

with

pinpoint_events as (

    select * from {{ ref('stg_pinpoint__events') }}

),

final as (

    select
        event_data ->> 'event_version' as event_version,
        count(*) as events,
        max(occurred_at) as last_occurred_at
    from pinpoint_events
    where coalesce(event_data ->> 'event_version', '') not like '3.%'
    group by event_data ->> 'event_version'

)

select * from final
