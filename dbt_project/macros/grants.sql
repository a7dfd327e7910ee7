{#
    on-run-start: create the read-only BI role if it is missing. Tolerates a user without
    CREATEROLE (notice only) and a concurrent creation by another run.
#}
{% macro create_bi_role(role_name='mailtrail_bi') -%}
    do $mailtrail$
    begin
        if not exists (select 1 from pg_catalog.pg_roles where rolname = '{{ role_name }}') then
            create role {{ role_name }} nologin;
        end if;
    exception
        when insufficient_privilege then
            raise notice 'mailtrail: cannot create role {{ role_name }}: %', sqlerrm;
        when duplicate_object or unique_violation then
            null;
    end
    $mailtrail$;
{%- endmacro %}

{#
    on-run-end: table grants come from the `grants` config of the marts; the role also needs
    USAGE on the marts schema to reach them.
#}
{% macro grant_bi_schema_usage(role_name='mailtrail_bi', schema_name='marts') -%}
    do $mailtrail$
    begin
        if exists (select 1 from pg_catalog.pg_roles where rolname = '{{ role_name }}')
            and exists (select 1 from pg_catalog.pg_namespace where nspname = '{{ schema_name }}') then
            grant usage on schema {{ schema_name }} to {{ role_name }};
        end if;
    exception
        when insufficient_privilege then
            raise notice 'mailtrail: cannot grant usage on schema {{ schema_name }}: %', sqlerrm;
    end
    $mailtrail$;
{%- endmacro %}
