{#
    is_duplicate: the provider says so (open tracker), or the same email log already had the same
    kind of event (open; click on the same link) from the same IP address and user agent less than
    var('duplicate_window_minutes') (30) before. This macro is the second part, a window over the
    email log's opens and clicks (classified_email_events computes it on those rows only and ORs
    the provider's flag). Each event is compared with the previous one of its kind, so a run of
    re-fetches a few minutes apart counts once. Needs the columns email_log_id, event_type,
    ip_address, user_agent, link_url, occurred_at, event_id. Per email log: fct_email_events
    re-processes whole email logs.
#}
{% macro is_repeated_engagement(window_minutes=none) -%}
    {%- set minutes = window_minutes if window_minutes is not none else var('duplicate_window_minutes') -%}
    coalesce(
        occurred_at - lag(occurred_at) over (
            partition by email_log_id, event_type, ip_address, user_agent, link_url
            order by occurred_at asc, event_id asc
        ) < make_interval(mins => {{ minutes }}),
        false
    )
{%- endmacro %}
