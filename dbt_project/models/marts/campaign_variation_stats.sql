{#-
    A/B content: one row per (campaign_name, app_name, custom_blocks_variation_id), the campaign's
    shoots added up per content variation (a null variation is the default content). A shoot
    renders one variation for its whole audience, so a variation's totals are the sums of its
    shoots' counters in shoot_stats (dry-run logs excluded there) and its rates are ratios of
    those totals, as in campaign_stats. A table over shoot_stats: one row per shoot is small.
-#}
{%- set metrics = [
    'sent', 'delivered', 'opened', 'clicked', 'bounced', 'complained', 'unsubscribed', 'failed',
] -%}

with

shoot_stats as (

    select * from {{ ref('shoot_stats') }}

),

totals as (

    select
        campaign_name,
        app_name,
        custom_blocks_variation_id,
        cast(count(*) filter (where sent_count > 0) as integer) as shoots,
        min(scheduled_at) filter (where sent_count > 0) as first_scheduled_at,
        max(scheduled_at) filter (where sent_count > 0) as last_scheduled_at,
        {%- for metric in metrics %}
        cast(coalesce(sum({{ metric }}_count), 0) as integer) as {{ metric }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from shoot_stats
    group by campaign_name, app_name, custom_blocks_variation_id

),

final as (

    select
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
