{#
    Device family from a user agent, as the open tracker does (seed 002):
    phone (phones and tablets), computer, other; null when there is no user agent.
#}
{% macro device_type(user_agent) -%}
    case
        when nullif(trim({{ user_agent }}), '') is null then null
        when {{ user_agent }} ~* '(iphone|ipad|android|mobile)' then 'phone'
        when {{ user_agent }} ~* '(windows|macintosh|x11|linux|cros)' then 'computer'
        else 'other'
    end
{%- endmacro %}

{# True when the user agent looks like a link scanner or bot (var bot_user_agent_pattern). #}
{% macro is_bot_user_agent(user_agent) -%}
    coalesce({{ user_agent }} ~* '{{ var("bot_user_agent_pattern") }}', false)
{%- endmacro %}
