{# ['a', 'b'] -> 'a', 'b' (for `x in ({{ sql_string_list(values) }})`). #}
{% macro sql_string_list(values) -%}
    {{ return("'" ~ (values | join("', '")) ~ "'") }}
{%- endmacro %}
