{#
    Data tests on the big tables cost their share of the batch: their `where` configs say
    `<column> >= __data_test_since__`, the start of the last `data_test_days` days (var; the
    production build passes 3). With data_test_days 0 (the default: CI, the nightly
    `nightly_data_tests` job) the placeholder's condition is dropped and the test reads every row.
    Overrides dbt's get_where_subquery, which applies a test's `where`.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__data_test_since__' in where -%}
        {%- set days = var('data_test_days', 0) | int -%}
        {%- if days > 0 -%}
            {%- set where = where | replace(
                '__data_test_since__', "now() - interval '" ~ days ~ " days'") -%}
        {%- else -%}
            {%- set where = '' -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) as dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
