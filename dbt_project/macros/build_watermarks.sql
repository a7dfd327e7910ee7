{#
    Incremental builds (docs/incremental-builds.md). Raw, ledger and shoot rows carry load_xid, the
    id of the transaction that wrote them; app.build_watermarks holds, per successful build, the
    snapshot taken when it started. A row is new to this build when that snapshot did not see it:
    this catches loads committed late (started before the previous build, committed after it).
    Builds record a watermark only when every incremental model succeeded, so a failed build's
    batch is simply taken again by the next one.
#}

{#- the models that consume the batch: a watermark means all of them processed it. The daily
    marts are not among them: they read the days queued by int_email_events__day_signatures
    (macros/daily_marts.sql), which stay queued until a daily mart's own build takes them, and
    they build in a dbt invocation of their own (Dagster's daily-partitioned assets). -#}
{% macro batch_consumers() -%}
    {{ return([
        'int_email_events__batch',
        'fct_email_events',
        'email_logs',
        'int_email_events__day_signatures',
        'shoot_stats',
        'suppression_list',
        'account_campaign_stats',
    ]) }}
{%- endmacro %}

{#- the snapshot of the latest successful build, null before the first one -#}
{% macro last_build_snapshot() -%}
    (
        select build_watermarks.snapshot
        from app.build_watermarks
        where build_watermarks.succeeded_at is not null
        order by build_watermarks.succeeded_at desc
        limit 1
    )
{%- endmacro %}

{#- true for a row the latest successful build did not see (every row before the first build).
    The snapshot is read when the model compiles, in this build, and written into the SQL as a
    constant: PostgreSQL then estimates the range on load_xid from its statistics (a few rows:
    index probes all the way down) instead of guessing a third of the table for an unknown
    parameter and scanning every raw row (docs/incremental-builds.md). The first condition is an
    index range on load_xid, the second drops what that snapshot saw. -#}
{% macro loaded_since_last_build(xid_column) -%}
    {%- set snapshot = last_build_snapshot_value() -%}
    {%- if snapshot is none -%}
    (true)
    {%- else -%}
    (
        {{ xid_column }} >= cast('{{ snapshot.xmin }}' as xid8)
        and not pg_visible_in_snapshot({{ xid_column }}, cast('{{ snapshot.snapshot }}' as pg_snapshot))
    )
    {%- endif -%}
{%- endmacro %}

{#- the latest successful build's snapshot as {snapshot, xmin} text (none before the first build,
    and at parse time); values PostgreSQL printed, checked to hold only what a snapshot prints -#}
{% macro last_build_snapshot_value() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        'select cast(snapshot as text), cast(pg_snapshot_xmin(snapshot) as text) from '
        ~ last_build_snapshot() ~ ' as latest (snapshot)'
    ) -%}
    {%- set snapshot = found.rows[0][0] if found.rows | length > 0 else none -%}
    {%- if snapshot is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9:,]+', snapshot) -%}
        {{ exceptions.raise_compiler_error('app.build_watermarks: unexpected snapshot ' ~ snapshot) }}
    {%- endif -%}
    {{ return({'snapshot': snapshot, 'xmin': found.rows[0][1]}) }}
{%- endmacro %}

{#- on-run-start: remember what this build can see before any model reads anything -#}
{% macro start_build_watermark() -%}
    insert into app.build_watermarks (invocation_id, snapshot)
    values ('{{ invocation_id }}', pg_current_snapshot())
    on conflict (invocation_id) do nothing
{%- endmacro %}

{#- on-run-end: the snapshot becomes the next batch's start only if every consumer of the batch
    succeeded in this build and the build was not restricted to a window of days -#}
{% macro finish_build_watermark(results) -%}
    {%- set succeeded = [] -%}
    {%- for result in results -%}
        {%- if result.node.resource_type == 'model' and result.status == 'success'
            and result.node.name in batch_consumers() -%}
            {%- do succeeded.append(result.node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if (succeeded | unique | list | length) == (batch_consumers() | length)
        and var('window_start', none) is none -%}
    update app.build_watermarks
    set succeeded_at = clock_timestamp()
    where invocation_id = '{{ invocation_id }}'
    {%- else -%}
    select 1 as watermark_unchanged
    {%- endif -%}
{%- endmacro %}

{#- pre-hook of an incremental mart: delete the rows the batch recomputes (nothing on a full
    build). `where` selects the rows of the keys the batch touches. -#}
{% macro delete_batch_rows(where) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ where }}
    {%- else -%}
    select 1 as full_build
    {%- endif -%}
{%- endmacro %}

{#- the keys of the batch (int_email_events__batch), as subqueries for the marts and their hooks -#}
{% macro batch_event_ids_sql() -%}
    select batch.event_id from {{ ref('int_email_events__batch') }} as batch
{%- endmacro %}

{% macro batch_email_logs_sql() -%}
    select batch.email_log_id from {{ ref('int_email_events__batch') }} as batch
{%- endmacro %}

{#- (start, end) ISO dates of a windowed build, none otherwise; window_end defaults to
    window_start. Parsed as dates, so nothing but a date reaches the SQL. -#}
{% macro build_window() -%}
    {%- set start = var('window_start', none) -%}
    {%- if start is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set end = var('window_end', none) or start -%}
    {%- set first = modules.datetime.date.fromisoformat(start | string) -%}
    {%- set last = modules.datetime.date.fromisoformat(end | string) -%}
    {%- if first > last -%}
        {{ exceptions.raise_compiler_error(
            'window_start ' ~ first ~ ' is after window_end ' ~ last) }}
    {%- endif -%}
    {{ return((first.isoformat(), last.isoformat())) }}
{%- endmacro %}

{% macro batch_recipients_sql() -%}
    select batch.recipient from {{ ref('int_email_events__batch') }} as batch
{%- endmacro %}

{#- shoots whose email logs are in the batch, and shoots whose own row changed -#}
{#- the accounts of the batch's email logs (their account never changes: the send ledger's) -#}
{% macro batch_accounts_sql() -%}
    select distinct email_logs.account_ref from {{ ref('email_logs') }} as email_logs
    where email_logs.email_log_id = any(array({{ batch_email_logs_sql() }}))
    and email_logs.account_ref is not null
{%- endmacro %}

{% macro batch_shoots_sql() -%}
    select batch.shoot_id from {{ ref('int_email_events__batch') }} as batch
    where batch.shoot_id is not null
    union
    select shoots.shoot_id from {{ ref('stg_mailtrail__shoots') }} as shoots
    where {{ loaded_since_last_build('shoots.load_xid') }}
{%- endmacro %}
