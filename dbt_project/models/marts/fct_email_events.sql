{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=[
            "set local work_mem = '{{ var(\"transform_work_mem\") }}'",
            "{{ delete_batch_rows('event_id = any(array(' ~ batch_event_ids_sql() ~ '))') }}",
        ],
        post_hook=["{{ suppressing_recipients_index() }}", "{{ analyze_after_full_build() }}"],
        indexes=[
            {'columns': ['event_id'], 'unique': True},
            {'columns': ['email_log_id']},
            {'columns': ['loaded_at']},
            {'columns': ['occurred_at']},
            {'columns': ['message_id']},
            {'columns': ['recipient']},
        ]
    )
}}

{#-
    Incremental batch = every event of every email log something new touched
    (int_email_events__batch, docs/incremental-builds.md). The flags are computed per email log
    (machine opens, bot clicks: "within N seconds of the first delivery"), so re-processing whole
    email logs keeps the table identical to a full refresh. The pre-hook deletes the batch's
    events; they are inserted again as they resolve now (an event that moved to another email log
    leaves its old one). The batch's rows are asked for by primary key; PostgreSQL may still choose
    to scan a raw table and semi-join it (docs/incremental-builds.md, "Known costs").
-#}

-- the incremental branch reads them through macros/email_events.sql:
-- depends_on: {{ ref('stg_ses__events') }}
-- depends_on: {{ ref('stg_pinpoint__events') }}
-- depends_on: {{ ref('stg_emailit__events') }}
-- depends_on: {{ ref('stg_tracker__open_events') }}
-- depends_on: {{ ref('stg_mailtrail__events') }}
-- depends_on: {{ ref('stg_mailtrail__email_sends') }}
-- depends_on: {{ ref('event_type_map') }}
-- depends_on: {{ ref('int_email_events__batch') }}
-- depends_on: {{ ref('stg_enrich__user_agents') }}
-- depends_on: {{ ref('stg_enrich__ip_addresses') }}
-- depends_on: {{ ref('apple_proxy_ranges') }}

{%- if execute and is_incremental()
    and 'model.mailtrail.int_email_events__batch' not in selected_resources -%}
{{ exceptions.raise_compiler_error(
    'fct_email_events: an incremental run needs int_email_events__batch in the same selection '
    ~ '(select int_email_events__batch+), or --full-refresh'
) }}
{%- endif %}

with

{% if is_incremental() %}
events as not materialized (

    {%- set batch_events = '(' ~ email_events(event_ids=batch_event_ids_sql()) ~ ') as batch_events' %}
    {%- set enriched = '(' ~ enriched_email_events(batch_events) ~ ') as enriched_events' %}
    {{ classified_email_events(enriched) | indent(4) }}

),
{% else %}
events as not materialized (

    select * from {{ ref('int_email_events__classified') }}

),
{% endif %}

final as (

    select
        events.event_id,
        events.email_log_id,
        events.message_id,
        events.provider,
        events.event_type,
        events.occurred_at,
        events.recipient,
        events.campaign_name,
        events.shoot_id,
        events.bounce_type,
        events.bounce_subtype,
        events.complaint_type,
        events.link_url,
        events.ip_address,
        events.user_agent,
        events.device_type,
        events.geo_country,
        events.geo_region,
        events.geo_city,
        events.latitude,
        events.longitude,
        events.is_duplicate,
        events.is_machine_open,
        events.is_bot_click,
        events.machine_open_reason,
        events.bot_click_reason,
        events.os,
        events.client,
        events.geo_source,
        events.event_data,
        events.app_name,
        events.provider_event_type,
        events.template_name,
        events.error_type,
        events.error_message,
        events.loaded_at,
        -- Pinpoint's own attribution (null for other providers), appended to the incremental table
        events.campaign_id,
        events.campaign_activity_id,
        events.treatment_id,
        events.journey_id,
        events.journey_activity_id,
        events.app_id
    from events

)

select * from final
{% if is_incremental() %}
-- an incremental batch is stored by email log: the next batches, email_logs and the daily marts
-- read whole email logs through the email_log_id index. Not a full refresh: sorting every event
-- with its payload needs a copy of the history in temporary files (24 GB at 10M events,
-- docs/incremental-builds.md, "Full refresh at 10M events"); arrival order keeps an email log's
-- events within the days it lived.
order by email_log_id
{% endif %}
