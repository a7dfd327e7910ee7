{#- One line per provider: each model follows macros/provider_event_columns.sql. -#}
{%- set provider_event_models = [
    'stg_ses__events',
] -%}

with

{% for model_name in provider_event_models %}
{{ model_name }} as (

    select * from {{ ref(model_name) }}

),

{% endfor %}
event_type_map as (

    select * from {{ ref('event_type_map') }}

),

-- canonical event type: the seed is joined inside each provider's branch and restricted to that
-- provider, so PostgreSQL estimates the join from the provider's own mapping rows
mapped as not materialized (

    {% for model_name in provider_event_models %}
    select
        {% for column_name in provider_event_columns() -%}
        {{ model_name }}.{{ column_name }},
        {% endfor -%}
        event_type_map.event_type
    from {{ model_name }}
    inner join event_type_map
        on
            {{ model_name }}.provider = event_type_map.provider
            and {{ model_name }}.provider_event_type = event_type_map.provider_event_type
            -- stg_<provider>__events: the same constant, stated so the planner sees it
            and event_type_map.provider = '{{ model_name[4:].split('__')[0] }}'
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- first delivery per email log (message x recipient): fct_email_events always re-processes every
-- event of an email log together, so the flags below stay right incrementally. An aggregate joined
-- back, rather than a window, avoids sorting every event together with its payload.
email_log_deliveries as (

    select
        email_log_id,
        min(occurred_at) as first_delivered_at
    from mapped
    where event_type = 'delivered'
    group by email_log_id

),

with_first_delivery as (

    select
        mapped.*,
        email_log_deliveries.first_delivered_at
    from mapped
    left join email_log_deliveries
        on mapped.email_log_id = email_log_deliveries.email_log_id

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
        {{ device_type('user_agent') }} as device_type,
        geo_country,
        geo_region,
        geo_city,
        latitude,
        longitude,
        coalesce(is_duplicate, false) as is_duplicate,
        coalesce(
            event_type = 'opened'
            and (
                user_agent = 'Mozilla/5.0'
                or is_provider_suppressed
                or abs(extract(epoch from occurred_at - first_delivered_at))
                <= {{ var('machine_event_window_seconds') }}
            ),
            false
        ) as is_machine_open,
        coalesce(
            event_type = 'clicked'
            and (
                {{ is_bot_user_agent('user_agent') }}
                or abs(extract(epoch from occurred_at - first_delivered_at))
                <= {{ var('machine_event_window_seconds') }}
            ),
            false
        ) as is_bot_click,
        event_data,
        loaded_at
    from with_first_delivery

)

select * from final
