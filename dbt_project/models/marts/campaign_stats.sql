{#-
    Campaign totals, one row per (campaign_name, app_name). campaign_daily_stats counts an email
    log once per metric, on the day of its first event of that kind, so each total here is the sum
    of the daily column: the number of unique email logs with that event over the campaign's whole
    life. Its rates are therefore true campaign rates (a day's rate can exceed 1 when a message is
    sent one day and delivered the next; a total's cannot, but for evidence without a send event).
-#}
{%- set metrics = [
    'sent', 'delivered', 'bounced', 'hard_bounced', 'soft_bounced', 'complained', 'rejected',
    'failed', 'dropped', 'skipped', 'opened', 'machine_opened', 'clicked', 'bot_clicked',
    'unsubscribed',
] -%}

with

daily as (

    select * from {{ ref('campaign_daily_stats') }}

),

totals as (

    select
        campaign_name,
        app_name,
        min(date_day) as first_day,
        max(date_day) as last_day,
        {%- for metric in metrics %}
        cast(sum({{ metric }}) as integer) as {{ metric }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from daily
    group by campaign_name, app_name

),

final as (

    select
        *,
        {{ engagement_rates([
            'delivery_rate',
            'open_rate',
            'machine_open_rate',
            'click_rate',
            'bot_click_rate',
            'click_to_open_rate',
            'bounce_rate',
            'complaint_rate',
            'unsubscribe_rate',
        ]) }}
    from totals

)

select * from final
