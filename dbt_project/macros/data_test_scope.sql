{#
    Data tests on the big tables test the rows the build wrote: their `where` configs say
    `event_id = any(__batch_event_ids__)` (fct_email_events) or
    `email_log_id = any(__batch_email_log_ids__)` (email_logs). With the var data_tests_on set
    to 'batch' (the production build's dbt step) the placeholders become the keys of this
    build's batch (int_email_events__batch), so a test costs its share of the batch: rows
    written by earlier builds were tested by them. With 'all' (the default: `dbt build` by hand,
    CI, the nightly `nightly_data_tests` job) the condition is dropped and the test reads every
    row. Overrides dbt's get_where_subquery, which applies a test's `where`.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__batch_' in where -%}
        {%- if data_tests_read_the_batch() -%}
            {%- set batch = graph.nodes.get('model.mailtrail.int_email_events__batch').relation_name -%}
            {%- set where = where
                | replace('__batch_event_ids__', 'array(select batch.event_id from ' ~ batch ~ ' as batch)')
                | replace('__batch_email_log_ids__', 'array(select batch.email_log_id from ' ~ batch ~ ' as batch)') -%}
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

{#- the same scope for a singular test: `{{ batch_rows_only('event_id') }}` after its `from` -#}
{% macro batch_rows_only(key) -%}
    {%- if data_tests_read_the_batch() -%}
    where {{ key }} = any(array(select batch.{{ key }} from {{ ref('int_email_events__batch') }} as batch))
    {%- endif -%}
{%- endmacro %}

{#- true when the tests read the batch's rows: data_tests_on is 'batch' and a build succeeded
    before this one (on a first build every row is new, and the batch is empty) -#}
{% macro data_tests_read_the_batch() -%}
    {{ return(var('data_tests_on', 'all') == 'batch' and last_build_snapshot_value() is not none) }}
{%- endmacro %}
