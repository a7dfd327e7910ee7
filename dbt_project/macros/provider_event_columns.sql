{#
    The column contract every provider staging model (stg_<provider>__events) produces, in this
    order and with these types, so int_email_events__unioned can union them by name.

      event_id text                  unique per provider event and recipient (raw event_key)
      provider text                  ses, pinpoint, emailit, tracker, mailtrail
      provider_event_type text       the provider's own event name (joined to event_type_map)
      message_id text                provider message id
      email_log_id text              our email log id (tag) or surrogate_key(provider|message_id|recipient)
      recipient text                 lower-cased address
      occurred_at timestamptz
      campaign_name, app_name, shoot_id, template_name text
      bounce_type text               hard / soft / undetermined
      bounce_subtype, complaint_type, error_type, error_message, link_url text
      ip_address, user_agent text    as received (normalised downstream)
      device_type text               the provider's own phone / computer / other (open tracker), else null
      geo_country, geo_region, geo_city text; latitude, longitude double precision
      is_duplicate boolean           provider says this is a repeat (open tracker)
      is_provider_suppressed boolean provider flags the event as prefetch / sender-suppressed
      campaign_id, campaign_activity_id, treatment_id, journey_id, journey_activity_id, app_id text
                                     the provider's own attribution (Pinpoint), else null
      event_data jsonb               the provider record
      loaded_at timestamptz          when the raw row was loaded
#}
{% macro provider_event_columns() -%}
    {{ return([
        'event_id',
        'provider',
        'provider_event_type',
        'message_id',
        'email_log_id',
        'recipient',
        'occurred_at',
        'campaign_name',
        'app_name',
        'shoot_id',
        'template_name',
        'bounce_type',
        'bounce_subtype',
        'complaint_type',
        'error_type',
        'error_message',
        'link_url',
        'ip_address',
        'user_agent',
        'device_type',
        'geo_country',
        'geo_region',
        'geo_city',
        'latitude',
        'longitude',
        'is_duplicate',
        'is_provider_suppressed',
        'campaign_id',
        'campaign_activity_id',
        'treatment_id',
        'journey_id',
        'journey_activity_id',
        'app_id',
        'event_data',
        'loaded_at',
    ]) }}
{%- endmacro %}

{# The attribution columns of a provider that has none of its own (every one but Pinpoint). #}
{% macro no_provider_attribution() -%}
    {%- for column_name in ['campaign_id', 'campaign_activity_id', 'treatment_id', 'journey_id',
                            'journey_activity_id', 'app_id'] -%}
        cast(null as text) as {{ column_name }},
    {% endfor -%}
{%- endmacro %}

{#- The staging model of every provider's events, one line per provider: each follows
    provider_event_columns(). The canonical events and the incremental batch both read them. -#}
{% macro provider_event_models() -%}
    {{ return([
        'stg_ses__events',
        'stg_pinpoint__events',
        'stg_emailit__events',
        'stg_tracker__open_events',
        'stg_mailtrail__events',
    ]) }}
{%- endmacro %}
