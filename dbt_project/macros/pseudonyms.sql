{#
    Pseudonymised reads for BI: var `hash_recipients`, else env MAILTRAIL_HASH_RECIPIENTS
    (the setting of that name), else off.

    pseudonym(expr): with hashing on, the hex SHA-256 of the lower-cased value (plus the optional
    var `pseudonym_salt`), so BI can still count and join distinct recipients but not read them;
    with hashing off, the value as it is.

    pseudonymised_select(model_name, columns): every column of the mart, with `columns` passed
    through pseudonym(). The column list is read from the built relation, so the view follows the
    mart's contract; before the mart exists (parsing, linting) it is `select *`.
#}
{% macro hashing_recipients() -%}
    {{ return(var('hash_recipients', env_var('MAILTRAIL_HASH_RECIPIENTS', 'false') | lower in ['1', 'true', 'yes'])) }}
{%- endmacro %}

{% macro pseudonym(expr) -%}
    {%- if hashing_recipients() -%}
        encode(sha256(convert_to(lower(cast({{ expr }} as text)) || '{{ var("pseudonym_salt", "") }}', 'UTF8')), 'hex')
    {%- else -%}
        {{ expr }}
    {%- endif -%}
{%- endmacro %}

{% macro pseudonymised_select(model_name, columns) -%}
    {%- set relation = ref(model_name) -%}
    {%- set existing = adapter.get_columns_in_relation(relation) if execute else [] -%}
    {%- if existing | length == 0 %}
    select * from {{ relation }}
    {%- else %}
    select
        {%- for column in existing %}
        {% if column.name in columns -%}
            {{ pseudonym(column.name) }} as {{ column.name }}
        {%- else -%}
            {{ column.name }}
        {%- endif %}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    {%- endif %}
{%- endmacro %}

{#
    on-run-end: with hashing on, the BI role reads the pseudonymised `bi` views only.
#}
{% macro restrict_bi_to_pseudonyms(role_name='mailtrail_bi') -%}
    {%- if hashing_recipients() -%}
    do $mailtrail$
    begin
        if exists (select 1 from pg_catalog.pg_roles where rolname = '{{ role_name }}')
            and exists (select 1 from pg_catalog.pg_namespace where nspname = 'marts') then
            revoke all on all tables in schema marts from {{ role_name }};
            revoke usage on schema marts from {{ role_name }};
        end if;
    exception
        when insufficient_privilege then
            raise notice 'mailtrail: cannot restrict {{ role_name }}: %', sqlerrm;
    end
    $mailtrail$;
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
