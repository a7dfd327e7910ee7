{#
    The daily marts recompute only the UTC days whose content changed (docs/incremental-builds.md,
    "Which days the daily marts recompute"). int_email_events__day_signatures keeps, per event,
    a checksum of everything any daily mart reads of it; a build compares the batch's checksums
    before and after, in that model's transaction, and queues the days that differ in
    app.daily_mart_dirty_days, once per daily mart. Each daily mart recomputes its queued days
    and removes them from the queue in its own transaction: a mart that fails leaves its days
    queued for the next build.
#}

{#- the marts that read the queue (each its own rows of it) -#}
{% macro daily_marts() -%}
    {{ return([
        'campaign_daily_stats',
        'link_clicks_daily',
        'event_geo_daily',
        'device_daily_stats',
    ]) }}
{%- endmacro %}

{#- campaign_daily_stats' metrics: name -> the events of an email log that count for it (columns
    of fct_email_events). The mart counts a log once per metric, on the day of its first such
    event; the day signatures mark the event that is that first. -#}
{% macro daily_stats_metrics() -%}
    {%- set delivery_evidence = sql_string_list(delivery_evidence_event_types()) -%}
    {{ return({
        'sent': "event_type = 'sent'",
        'delivered': 'event_type in (' ~ delivery_evidence ~ ')',
        'bounced': "event_type = 'bounced'",
        'hard_bounced': "event_type = 'bounced' and bounce_type = 'hard'",
        'soft_bounced': "event_type = 'bounced' and bounce_type = 'soft'",
        'complained': "event_type = 'complained'",
        'rejected': "event_type = 'rejected' and provider <> 'mailtrail'",
        'failed': "event_type in ('rendering_failed', 'failed')",
        'dropped': "event_type = 'rejected' and provider = 'mailtrail'",
        'skipped': "event_type = 'skipped'",
        'opened': "event_type = 'opened' and not is_machine_open and not is_duplicate",
        'machine_opened': "event_type = 'opened' and is_machine_open and not is_duplicate",
        'clicked': "event_type = 'clicked' and not is_bot_click and not is_duplicate",
        'bot_clicked': "event_type = 'clicked' and is_bot_click and not is_duplicate",
        'unsubscribed': "event_type = 'unsubscribed'",
    }) }}
{%- endmacro %}

{#- per email log of `events` (a CTE of fct_email_events' columns): its attribution and the time
    of its first event of each metric of campaign_daily_stats -#}
{% macro email_log_first_events(events) -%}
    select
        email_log_id,
        coalesce(max(campaign_name), 'unattributed') as campaign_name,
        coalesce(max(app_name), 'unattributed') as app_name,
        {%- for metric, condition in daily_stats_metrics().items() %}
        min(occurred_at) filter (where {{ condition }}) as first_{{ metric }}_at
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ events }}
    group by email_log_id
{%- endmacro %}

{#- first pre-hook of a daily mart: the UTC days it recomputes, kept in a temporary table for
    its transaction - its queued days, and on a run of partitions (vars window_start and
    window_end, `mailtrail build --from --to`) every day of that window too. Read once, so the
    days it recomputes are the days it removes from the queue: a day queued meanwhile by a build
    running at the same time stays queued for the next run. -#}
{% macro stash_batch_days() -%}
    {%- set window = build_window() -%}
    create temporary table daily_mart_days on commit drop as
    select dirty_days.date_day
    from app.daily_mart_dirty_days as dirty_days
    where dirty_days.mart = '{{ this.identifier }}'
    {%- if window is not none %}
    union
    select cast(window_days.date_day as date) as date_day
    from generate_series(
        cast('{{ window[0] }}' as date), cast('{{ window[1] }}' as date), interval '1 day'
    ) as window_days (date_day)
    {%- endif -%}
{%- endmacro %}

{#- the UTC days a daily mart recomputes (stash_batch_days) -#}
{% macro batch_days_sql() -%}
    select daily_mart_days.date_day from daily_mart_days
{%- endmacro %}

{#- post-hook of a daily mart: the days it recomputed are done (same transaction as its rows) -#}
{% macro consume_dirty_days() -%}
    delete from app.daily_mart_dirty_days as dirty_days
    where dirty_days.mart = '{{ this.identifier }}'
        and dirty_days.date_day in ({{ batch_days_sql() }})
{%- endmacro %}

{#- queue the days of `days_sql` (a query of date_day) for every daily mart -#}
{% macro queue_dirty_days(days_sql) -%}
    insert into app.daily_mart_dirty_days (mart, date_day)
    select daily_marts.mart, changed_days.date_day
    from (select distinct days.date_day from ({{ days_sql }}) as days) as changed_days
    cross join (
        values
        {%- for mart in daily_marts() %}
        ('{{ mart }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as daily_marts (mart)
    where changed_days.date_day is not null
    on conflict do nothing
{%- endmacro %}

{#- pre-hook of int_email_events__day_signatures: keep the batch's signatures as they were
    (incremental), or queue every day of the table being replaced (full build) -#}
{% macro stash_day_signatures() -%}
    {%- if is_incremental() -%}
    create temporary table day_signatures_before on commit drop as
    select event_id, date_day, signature from {{ this }}
    where event_id = any(array({{ batch_event_ids_sql() }}))
    {%- elif adapter.get_relation(this.database, this.schema, this.identifier) is not none -%}
    {{ queue_dirty_days('select date_day from ' ~ this) }}
    {%- else -%}
    select 1 as first_build
    {%- endif -%}
{%- endmacro %}

{#- post-hook of int_email_events__day_signatures: queue the days whose signatures differ from
    before (incremental), or every day (full build) -#}
{% macro queue_changed_days() -%}
    {%- if is_incremental() -%}
    {%- set after -%}
        select event_id, date_day, signature from {{ this }}
        where event_id = any(array({{ batch_event_ids_sql() }}))
    {%- endset -%}
    {%- set changed -%}
        select date_day from (
            (select * from day_signatures_before except select * from ({{ after }}) as after_rows)
            union all
            (select * from ({{ after }}) as after_rows except select * from day_signatures_before)
        ) as changed_rows
    {%- endset -%}
    {{ queue_dirty_days(changed) }}
    {%- else -%}
    {{ queue_dirty_days('select date_day from ' ~ this) }}
    {%- endif -%}
{%- endmacro %}

{#- true for a timestamp on one of the days a daily mart recomputes. The range between the first
    and the last of those days comes first, so PostgreSQL reads it from the index on the
    timestamp column; a join with the days was planned as a scan of the whole table. -#}
{% macro on_batch_days(column) -%}
    (
        {{ column }} >= (
            select cast(min(days.date_day) as timestamp) at time zone 'UTC'
            from ({{ batch_days_sql() }}) as days
        )
        and {{ column }} < (
            select cast(max(days.date_day) + 1 as timestamp) at time zone 'UTC'
            from ({{ batch_days_sql() }}) as days
        )
        and cast({{ column }} at time zone 'UTC' as date) = any(array({{ batch_days_sql() }}))
    )
{%- endmacro %}

{#- whether a daily mart recomputes so many of its days (a full refresh queues every day) that
    one sequential read of all its events beats reading the email logs of those days by index:
    a full refresh writes in arrival order, where an email log's events lie in different pages
    (link_clicks_daily after a full refresh at 1M: 47 s by index, 1 s reading everything). More
    than var('daily_marts_scan_share') (0.5) of the days the mart holds reads everything; the
    result is the same either way. -#}
{% macro reads_every_email_log() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set window = build_window() -%}
    {%- set window_days = 0 if window is none else (
        modules.datetime.date.fromisoformat(window[1]) - modules.datetime.date.fromisoformat(window[0])
    ).days + 1 -%}
    {%- set counts = run_query(
        "select (select count(*) from app.daily_mart_dirty_days where mart = '" ~ this.identifier
        ~ "'), (select count(distinct date_day) from " ~ this ~ ")"
    ).rows[0] -%}
    {{ return(counts[0] + window_days > counts[1] * var('daily_marts_scan_share', 0.5)) }}
{%- endmacro %}
