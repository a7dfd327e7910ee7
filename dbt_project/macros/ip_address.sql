{#
    Normalise an IP address: trim, empty -> null, IPv6-mapped IPv4 (::ffff:203.0.113.7) -> 203.0.113.7.
#}
{% macro normalize_ip_address(ip_address) -%}
    regexp_replace(
        nullif(trim({{ ip_address }}), ''),
        '^::ffff:([0-9]{1,3}(\.[0-9]{1,3}){3})$',
        '\1',
        'i'
    )
{%- endmacro %}
