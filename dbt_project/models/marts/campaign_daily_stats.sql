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
    Daily campaign stats, additive over days: an email log (message x recipient) counts for a
    metric once, on the UTC day of its FIRST event of that kind, so summing a metric over days
    gives the campaign total of unique email logs. Attribution (campaign_name, app_name) is per
    email log, 'unattributed' when the tag is missing. Dry-run logs (send ledger is_dry_run) are
    left out.
-#}
{#- metric name -> which events count for it (macros/daily_marts.sql) -#}
{%- set metrics = daily_stats_metrics() -%}

-- depends_on: {{ ref('int_email_events__day_signatures') }}

with

-- not materialized: each use below reads its rows by index (occurred_at, email_log_id)
all_events as not materialized (

    select * from {{ ref('fct_email_events') }}

),

{% if is_incremental() %}
-- the UTC days queued for this mart: only their rows change (macros/daily_marts.sql)
batch_days as (

    {{ batch_days_sql() }}

),

-- only an email log with an event on one of those days can have a first event there
day_email_logs as (

    select distinct events.email_log_id
    from all_events as events
    where {{ on_batch_days('events.occurred_at') }}

),

events as (

    select all_events.*
    from all_events
    where all_events.email_log_id = any(array(select day_email_logs.email_log_id from day_email_logs))

),
{% else %}
events as (

    select * from all_events

),
{% endif %}

dry_run_email_logs as (

    select email_log_id from {{ ref('stg_mailtrail__email_sends') }}
    where is_dry_run

),

-- dry-run email logs are left out
counted_events as (

    select *
    from events
    where not exists (
        select 1 as found from dry_run_email_logs
        where dry_run_email_logs.email_log_id = events.email_log_id
    )

),

email_log_first_events as (

    {{ email_log_first_events('counted_events') }}

),

metric_days as (

    select
        email_log_first_events.campaign_name,
        email_log_first_events.app_name,
        metric_firsts.metric,
        cast(metric_firsts.first_at at time zone 'UTC' as date) as date_day
    from email_log_first_events
    cross join
        lateral (
            values
            {%- for metric in metrics %}
            ('{{ metric }}', email_log_first_events.first_{{ metric }}_at)
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        ) as metric_firsts (metric, first_at)
    where
        metric_firsts.first_at is not null
    {% if is_incremental() %}
        and cast(metric_firsts.first_at at time zone 'UTC' as date) in (
            select batch_days.date_day from batch_days
        )
    {% endif %}

),

daily as (

    select
        date_day,
        campaign_name,
        app_name,
        {%- for metric in metrics %}
        cast(count(*) filter (where metric = '{{ metric }}') as integer) as {{ metric }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from metric_days
    group by date_day, campaign_name, app_name

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
        ]) }}
    from daily

)

select * from final
