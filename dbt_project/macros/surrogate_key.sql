{#
    Deterministic surrogate key: md5 of the fields joined with '|', nulls as empty strings.
    surrogate_key(['provider', 'message_id', 'recipient'])
      -> md5(coalesce(cast(provider as text), '') || '|' || ... )
    so md5('ses|<message_id>|<recipient>') in any other language gives the same key.
#}
{% macro surrogate_key(field_list) -%}
    md5(
        {%- for field in field_list %}
        coalesce(cast({{ field }} as text), '')
        {%- if not loop.last %} || '|' ||{% endif %}
        {%- endfor %}
    )
{%- endmacro %}
