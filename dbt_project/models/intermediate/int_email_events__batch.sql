{{
    config(
        materialized='table',
        indexes=[
            {'columns': ['event_id']},
            {'columns': ['email_log_id']},
        ],
        post_hook=['analyze {{ this }}'],
    )
}}

{#-
    What this build recomputes (docs/incremental-builds.md): every event of every email log that
    something new touches, one row per (event, email log it belongs or belonged to).
    New: provider and ledger rows the latest successful build did not see (load_xid, see
    macros/build_watermarks.sql), and the rows whose email_log_id they change: older Emailit
    events of the same Emailit email (the Message-ID may arrive later), and events of a message
    whose ledger row gained its message_id (they move to the ledger's email log).
    Affected email logs: those of the new rows, now and before (fct_email_events); then every
    event fct_email_events holds for them. The marts derive their keys from these rows: email
    logs, UTC days of the events (before and after), recipients and shoots.
    Reads fct_email_events by name, not ref (it runs before it): empty on a fresh warehouse.
-#}
{%- set provider_event_models = provider_event_models() -%}
{%- set fct = adapter.get_relation(
    database=target.database, schema='marts', identifier='fct_email_events'
) if execute else none -%}

-- read in the branch below (and by macros/email_events.sql):
-- depends_on: {{ ref('stg_ses__events') }}
-- depends_on: {{ ref('stg_pinpoint__events') }}
-- depends_on: {{ ref('stg_emailit__events') }}
-- depends_on: {{ ref('stg_tracker__open_events') }}
-- depends_on: {{ ref('stg_mailtrail__events') }}
-- depends_on: {{ ref('stg_mailtrail__email_sends') }}
-- depends_on: {{ ref('event_type_map') }}
-- not read, but ordered: Dagster runs the dbt nodes of a run in as many steps (dbt invocations)
-- as the assets between them require, and every consumer of the batch must be in the batch's
-- own invocation (its build watermark); the enrichment assets sit between the raw tables and
-- fct_email_events, so the batch waits for them too
-- depends_on: {{ ref('stg_enrich__user_agents') }}
-- depends_on: {{ ref('stg_enrich__ip_addresses') }}

with

{% if fct is not none %}
{% for model_name in provider_event_models %}
{{ model_name }} as not materialized (

    select * from {{ ref(model_name) }}

),

{% endfor %}
email_sends as not materialized (

    select * from {{ ref('stg_mailtrail__email_sends') }}

),

fct_email_events as not materialized (

    select * from {{ fct }}

),

new_events as (

    {% for model_name in provider_event_models %}
    select {{ model_name }}.event_id
    from {{ model_name }}
    where {{ loaded_since_last_build(model_name ~ '.load_xid') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- an Emailit event carrying the Message-ID gives it to the other events of its email
emailit_siblings as (

    select siblings.event_id
    from stg_emailit__events as siblings
    where siblings.emailit_email_id in (
        select stg_emailit__events.emailit_email_id
        from stg_emailit__events
        where {{ loaded_since_last_build('stg_emailit__events.load_xid') }}
    )

),

-- a ledger row that gained its message_id takes that message's provider events
ledger_matches as (

    select fct_email_events.event_id
    from fct_email_events
    inner join email_sends
        on
            fct_email_events.message_id = email_sends.message_id
            and fct_email_events.recipient = email_sends.recipient
    where
        {{ loaded_since_last_build('email_sends.load_xid') }}
        and fct_email_events.provider != 'mailtrail'

),

seed_events as materialized (

    select new_events.event_id from new_events
    union
    select emailit_siblings.event_id from emailit_siblings
    union
    select ledger_matches.event_id from ledger_matches

),

-- the seed events as they resolve now
seed_resolved as (

    select
        resolved.event_id,
        resolved.email_log_id,
        resolved.occurred_at,
        resolved.recipient,
        resolved.shoot_id
    from (
        {{ email_events(event_ids='select seed_events.event_id from seed_events') | indent(8) }}
    ) as resolved

),

-- the seed events as the previous build left them
seed_before as (

    select
        fct_email_events.event_id,
        fct_email_events.email_log_id,
        fct_email_events.occurred_at,
        fct_email_events.recipient,
        fct_email_events.shoot_id
    from fct_email_events
    where fct_email_events.event_id = any(array(select seed_events.event_id from seed_events))

),

affected_email_logs as (

    select seed_resolved.email_log_id from seed_resolved
    union
    select seed_before.email_log_id from seed_before

),

final as (

    select * from seed_resolved
    union
    select * from seed_before
    union
    select
        fct_email_events.event_id,
        fct_email_events.email_log_id,
        fct_email_events.occurred_at,
        fct_email_events.recipient,
        fct_email_events.shoot_id
    from fct_email_events
    where fct_email_events.email_log_id = any(array(
        select affected_email_logs.email_log_id from affected_email_logs
    ))

)
{% else %}
-- no fct_email_events yet: this build creates every mart whole
final as (

    select
        cast(null as text) as event_id,
        cast(null as text) as email_log_id,
        cast(null as timestamptz) as occurred_at,
        cast(null as text) as recipient,
        cast(null as text) as shoot_id
    where false

)
{% endif %}

select * from final
