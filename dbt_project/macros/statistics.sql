{#
    Post-hook of the big incremental tables: after a full build, gather the new table's statistics
    before anything reads it. A table created in one statement has none until autovacuum gets to
    it (up to a minute later); the daily marts that run right after a full refresh then plan
    their reads of fct_email_events for a few hundred rows instead of millions and ran for minutes
    instead of seconds. Incremental runs change a small share of the rows: autovacuum keeps up.
#}
{% macro analyze_after_full_build() -%}
    {%- if not is_incremental() -%}
    analyze {{ this }}
    {%- else -%}
    select 1 as statistics_kept
    {%- endif -%}
{%- endmacro %}
