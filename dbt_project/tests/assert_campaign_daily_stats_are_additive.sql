-- The additive rule of campaign_daily_stats: summed over days, each metric equals the number of
-- email logs of the campaign that have that kind of event (computed independently from
-- email_logs). Returns the campaigns where they differ. In Dagster it is a check on
-- campaign_daily_stats.

{{ config(tags=['daily_partitioned'], meta={'dagster': {'ref': {'name': 'campaign_daily_stats'}}}) }}

with

email_logs as (

    select * from {{ ref('email_logs') }}

),

campaign_daily_stats as (

    select * from {{ ref('campaign_daily_stats') }}

),

expected as (

    select
        coalesce(campaign_name, 'unattributed') as campaign_name,
        count(*) filter (where sent_at is not null) as sent,
        count(*) filter (where delivered_at is not null) as delivered,
        count(*) filter (where bounced_at is not null) as bounced,
        count(*) filter (where opened) as opened,
        count(*) filter (where clicked) as clicked,
        count(*) filter (where complained) as complained,
        count(*) filter (where unsubscribed) as unsubscribed
    from email_logs
    group by coalesce(campaign_name, 'unattributed')

),

actual as (

    select
        campaign_name,
        sum(sent) as sent,
        sum(delivered) as delivered,
        sum(bounced) as bounced,
        sum(opened) as opened,
        sum(clicked) as clicked,
        sum(complained) as complained,
        sum(unsubscribed) as unsubscribed
    from campaign_daily_stats
    group by campaign_name

),

final as (

    select
        coalesce(expected.campaign_name, actual.campaign_name) as campaign_name,
        expected.sent as expected_sent,
        actual.sent as actual_sent,
        expected.delivered as expected_delivered,
        actual.delivered as actual_delivered,
        expected.opened as expected_opened,
        actual.opened as actual_opened
    from expected
    full outer join actual
        on expected.campaign_name = actual.campaign_name
    where
        coalesce(expected.sent, 0) != coalesce(actual.sent, 0)
        or coalesce(expected.delivered, 0) != coalesce(actual.delivered, 0)
        or coalesce(expected.bounced, 0) != coalesce(actual.bounced, 0)
        or coalesce(expected.opened, 0) != coalesce(actual.opened, 0)
        or coalesce(expected.clicked, 0) != coalesce(actual.clicked, 0)
        or coalesce(expected.complained, 0) != coalesce(actual.complained, 0)
        or coalesce(expected.unsubscribed, 0) != coalesce(actual.unsubscribed, 0)

)

select * from final
