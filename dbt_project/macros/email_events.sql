{#
    The canonical email events: every provider's staging events with the canonical event type,
    the resolved email_log_id (the send ledger's when it sent the message) and the email log's
    first delivery, which the engagement rules need (macros/engagement/). int_email_events__unioned is this over every event;
    fct_email_events' incremental runs call it with `event_ids` (a subquery selecting event_id),
    which restricts every provider's rows by their primary key before anything is joined or
    aggregated. The caller passes whole email logs (int_email_events__batch), so what is computed
    per email log (first delivery, then the engagement rules) is the same as over every event.
#}
{% macro email_events(event_ids=none) -%}
{%- set provider_event_models = provider_event_models() -%}

with

{% for model_name in provider_event_models %}
{{ model_name }} as (

    select * from {{ ref(model_name) }}

),

{% endfor %}
event_type_map as (

    select * from {{ ref('event_type_map') }}

),

email_sends as (

    select * from {{ ref('stg_mailtrail__email_sends') }}

),

-- canonical event type: the seed is joined inside each provider's branch and restricted to that
-- provider, so PostgreSQL estimates the join from the provider's own mapping rows. A left join:
-- a provider type the seed does not list is kept as 'unknown' with its provider_event_type (the
-- warn-severity test unmapped_provider_event_types lists them), never dropped.
mapped as not materialized (

    {% for model_name in provider_event_models %}
    select
        {% for column_name in provider_event_columns() -%}
        {{ model_name }}.{{ column_name }},
        {% endfor -%}
        coalesce(event_type_map.event_type, 'unknown') as event_type
    from {{ model_name }}
    left join event_type_map
        on
            {{ model_name }}.provider = event_type_map.provider
            and {{ model_name }}.provider_event_type = event_type_map.provider_event_type
            -- stg_<provider>__events: the same constant, stated so the planner sees it
            and event_type_map.provider = '{{ model_name[4:].split('__')[0] }}'
    {% if event_ids %}
    where {{ model_name }}.event_id = any(array({{ event_ids }}))
    {% endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- the send ledger's email_log_id of each (provider message id, recipient) it sent
ledger_messages as (

    select
        message_id,
        recipient,
        min(email_log_id) as email_log_id
    from email_sends
    where
        message_id is not null
        {% if event_ids %}
        and message_id in (select mapped.message_id from mapped)
        {% endif %}
    group by message_id, recipient

),

-- an event of a message our dispatch sent takes the ledger's email_log_id (so our sends and their
-- provider events join even without the email_log_id tag); else the tag, else the surrogate.
-- Resolved before the per-email-log flags and before fct_email_events picks its batch by
-- email_log_id; a ledger row gaining its message_id later bumps its updated_at (= the ledger
-- events' loaded_at), which puts the whole email log back in the batch.
resolved as not materialized (

    select
        {% for column_name in provider_event_columns() -%}
        {%- if column_name == 'email_log_id' -%}
        coalesce(ledger_messages.email_log_id, mapped.email_log_id) as email_log_id,
        {% else -%}
        mapped.{{ column_name }},
        {% endif -%}
        {%- endfor -%}
        mapped.event_type
    from mapped
    left join ledger_messages
        on
            mapped.message_id = ledger_messages.message_id
            and mapped.recipient = ledger_messages.recipient
            and mapped.provider != 'mailtrail'

),

-- first delivery per email log (message x recipient): fct_email_events always re-processes every
-- event of an email log together, so the flags below stay right incrementally. An aggregate joined
-- back, rather than a window, avoids sorting every event together with its payload.
email_log_deliveries as (

    select
        email_log_id,
        min(occurred_at) as first_delivered_at
    from resolved
    where event_type = 'delivered'
    group by email_log_id

),

with_first_delivery as (

    select
        resolved.*,
        email_log_deliveries.first_delivered_at
    from resolved
    left join email_log_deliveries
        on resolved.email_log_id = email_log_deliveries.email_log_id

),

final as (

    select
        event_id,
        email_log_id,
        message_id,
        provider,
        provider_event_type,
        event_type,
        occurred_at,
        recipient,
        campaign_name,
        app_name,
        shoot_id,
        template_name,
        bounce_type,
        bounce_subtype,
        complaint_type,
        error_type,
        error_message,
        link_url,
        {{ normalize_ip_address('ip_address') }} as ip_address,
        user_agent,
        -- the provider's own device family (open tracker); enriched_email_events completes it
        device_type,
        geo_country,
        geo_region,
        geo_city,
        latitude,
        longitude,
        -- the provider's own flags; classified_email_events adds Mailtrail's rules
        coalesce(is_duplicate, false) as is_duplicate,
        coalesce(is_provider_suppressed, false) as is_provider_suppressed,
        first_delivered_at,
        campaign_id,
        campaign_activity_id,
        treatment_id,
        journey_id,
        journey_activity_id,
        app_id,
        event_data,
        loaded_at
    from with_first_delivery

)

select * from final
{%- endmacro %}
