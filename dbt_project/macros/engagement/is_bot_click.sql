{#
    Why a click is a machine's (null: a person's, or not a click). The first rule that applies:
      scanner_user_agent   the parser says crawler / HTTP library (enrich.user_agents.is_bot) or the
                           user agent matches var('bot_user_agent_pattern')
      at_delivery          no later than var('machine_event_window_seconds') (2 s) after the
                           email log's first delivery (link scanners of the receiving gateway)
      click_burst          var('click_burst_min_links') (3) or more different links of the message
                           clicked within var('click_burst_seconds') (5 s) of this click: a scanner
                           following every link
      no_plausible_client  no user agent, or one naming neither a client nor an operating system
    Needs: event_type, is_bot_user_agent, occurred_at, first_delivered_at, burst_links,
    has_plausible_client.
#}
{% macro bot_click_reason() -%}
    case
        when event_type != 'clicked' then null
        when coalesce(is_bot_user_agent, false) then 'scanner_user_agent'
        when occurred_at <= first_delivered_at + make_interval(secs => {{ var('machine_event_window_seconds') }})
            then 'at_delivery'
        when coalesce(burst_links, 0) >= {{ var('click_burst_min_links') }} then 'click_burst'
        when not coalesce(has_plausible_client, false) then 'no_plausible_client'
    end
{%- endmacro %}
