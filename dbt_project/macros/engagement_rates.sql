{#-
    The rates every campaign mart gives, each defined once: a rate is a count over the count it is
    a share of, rounded to 6 decimals, null when that count is 0. `names` picks which rates (and
    their order) a mart shows; the counts must be columns of the relation selected from.
-#}
{% macro engagement_rate_definitions() -%}
    {{ return({
        'delivery_rate': ('delivered', 'sent'),
        'open_rate': ('opened', 'delivered'),
        'machine_open_rate': ('machine_opened', 'delivered'),
        'click_rate': ('clicked', 'delivered'),
        'bot_click_rate': ('bot_clicked', 'delivered'),
        'click_to_open_rate': ('clicked', 'opened'),
        'bounce_rate': ('bounced', 'sent'),
        'complaint_rate': ('complained', 'delivered'),
        'unsubscribe_rate': ('unsubscribed', 'delivered'),
    }) }}
{%- endmacro %}

{% macro engagement_rates(names) -%}
    {%- set definitions = engagement_rate_definitions() -%}
    {%- for name in names -%}
        {%- set counts = definitions[name] -%}
        round(cast({{ counts[0] }} as numeric) / nullif({{ counts[1] }}, 0), 6) as {{ name }}
        {%- if not loop.last %},
        {% endif -%}
    {%- endfor -%}
{%- endmacro %}
