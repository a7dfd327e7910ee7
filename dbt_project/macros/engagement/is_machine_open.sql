{#
    Why an open is a machine's (null: a person's, or not an open). The first rule that applies:
      sender_suppressed     the provider flags it (tracker mark-suppress-next: a prefetch)
      apple_mpp_user_agent  the user agent is exactly var('apple_mpp_user_agent') ('Mozilla/5.0'),
                            what Apple Mail Privacy Protection's proxy sends
      apple_proxy_ip        the address is in a range of the apple_proxy_ranges seed (user-supplied)
      before_delivery       earlier than the email log's first delivery, by more than
                            var('machine_event_window_seconds') (2 s): nobody reads it before then
      at_delivery           within var('machine_event_window_seconds') after the first delivery
      image_proxy_prefetch  a mail provider's image proxy (var('image_proxy_user_agent_pattern'):
                            Google, Yahoo) within var('image_proxy_prefetch_seconds') (60 s) of
                            delivery; later proxy fetches are people opening the message
    Needs: event_type, is_provider_suppressed, user_agent, is_apple_proxy_ip, occurred_at,
    first_delivered_at.
#}
{% macro machine_open_reason() -%}
    {%- set window = var('machine_event_window_seconds') -%}
    case
        when event_type != 'opened' then null
        when coalesce(is_provider_suppressed, false) then 'sender_suppressed'
        when user_agent = '{{ var("apple_mpp_user_agent") }}' then 'apple_mpp_user_agent'
        when coalesce(is_apple_proxy_ip, false) then 'apple_proxy_ip'
        when first_delivered_at is null then null
        when occurred_at < first_delivered_at - make_interval(secs => {{ window }}) then 'before_delivery'
        when occurred_at <= first_delivered_at + make_interval(secs => {{ window }}) then 'at_delivery'
        when
            user_agent ~* '{{ var("image_proxy_user_agent_pattern") }}'
            and occurred_at <= first_delivered_at + make_interval(secs => {{ var('image_proxy_prefetch_seconds') }})
            then 'image_proxy_prefetch'
    end
{%- endmacro %}
