{#-
    Pinpoint's own attribution as stats: one row per Pinpoint project (app_id), campaign, campaign
    activity (one run of the campaign) and treatment (A/B variant), or per journey and journey
    activity for journey sends. Counted over email logs (dry runs left out) with the rules of
    campaign_daily_stats: delivered = any delivery evidence, bounced = any bounce, opened / clicked
    = a human open / click. So a treatment's rates compare with a campaign's in campaign_stats.
    campaign_name is our own tag when the logs carry one; untagged logs fall back to Pinpoint's
    campaign or journey id in email_logs, which is not a name and is left out here.
-#}

with

email_logs as (

    select * from {{ ref('email_logs') }}

),

pinpoint_email_logs as (

    select
        *,
        case
            when
                campaign_name not in (
                    coalesce(campaign_id, ''), coalesce(journey_id, ''), 'unattributed'
                )
                then campaign_name
        end as tagged_campaign_name
    from email_logs
    where
        provider = 'pinpoint'
        and not is_dry_run
        and coalesce(app_id, campaign_id, journey_id) is not null

),

totals as (

    select
        app_id,
        campaign_id,
        campaign_activity_id,
        treatment_id,
        journey_id,
        journey_activity_id,
        min(tagged_campaign_name) as campaign_name,
        cast(count(*) as integer) as email_logs,
        cast(count(*) filter (where sent_at is not null) as integer) as sent,
        cast(count(*) filter (where delivered_at is not null) as integer) as delivered,
        cast(count(*) filter (where bounced_at is not null) as integer) as bounced,
        cast(count(*) filter (where complained) as integer) as complained,
        cast(count(*) filter (where opened) as integer) as opened,
        cast(count(*) filter (where clicked) as integer) as clicked,
        cast(count(*) filter (where unsubscribed) as integer) as unsubscribed,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at
    from pinpoint_email_logs
    group by
        app_id,
        campaign_id,
        campaign_activity_id,
        treatment_id,
        journey_id,
        journey_activity_id

),

final as (

    select
        {{ surrogate_key([
            'app_id', 'campaign_id', 'campaign_activity_id', 'treatment_id',
            'journey_id', 'journey_activity_id',
        ]) }} as treatment_stats_id,
        *,
        {{ engagement_rates([
            'delivery_rate',
            'open_rate',
            'click_rate',
            'click_to_open_rate',
            'bounce_rate',
            'complaint_rate',
            'unsubscribe_rate',
        ]) }}
    from totals

)

select * from final
