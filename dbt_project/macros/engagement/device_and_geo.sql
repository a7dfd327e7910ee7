{#
    Device family of an open or click (seed 002: phone, computer, other): the provider's own
    (open tracker) wins, then the parsed user agent (enrich.user_agents, ua-parser), then the
    regex fallback for a user agent not parsed yet; an open or click without any is 'other',
    never null. Other events have no device.
#}
{% macro engagement_device_type(provider_device_type, parsed_device_type, user_agent, event_type) -%}
    coalesce(
        {{ provider_device_type }},
        {{ parsed_device_type }},
        {{ device_type(user_agent) }},
        case when {{ event_type }} in ('opened', 'clicked') then 'other' end
    )
{%- endmacro %}

{#
    One geolocation column: the provider's (open tracker) whenever it gave a country, else the
    GeoIP database's (enrich.ip_addresses). The whole location comes from one place, so a
    tracker city never sits beside a GeoIP country.
#}
{% macro engagement_geo(column, provider_relation, geoip_relation) -%}
    case
        when {{ provider_relation }}.geo_country is not null then {{ provider_relation }}.{{ column }}
        else {{ geoip_relation }}.{{ column }}
    end
{%- endmacro %}

{#
    A client a person could be using: a user agent that the parser recognised as a browser or
    mail client or an operating system. Missing, or neither known: no plausible client. A user agent
    not parsed yet (no enrichment row) is given the benefit of the doubt.
#}
{% macro has_plausible_client(user_agent, parsed_md5, parsed_client, parsed_os) -%}
    (
        nullif(trim({{ user_agent }}), '') is not null
        and (
            {{ parsed_md5 }} is null
            or {{ parsed_client }} is not null
            or {{ parsed_os }} is not null
        )
    )
{%- endmacro %}
