{#- the events that put a recipient on the suppression list (suppression_list's reasons) -#}
{% macro suppressing_event_condition() -%}
    ((event_type = 'bounced' and bounce_type = 'hard') or event_type in ('complained', 'unsubscribed'))
{%- endmacro %}

{#- post-hook of fct_email_events: an index of the suppressing events by recipient, partial (about
    one event in a hundred). suppression_list recomputes the batch's recipients from their
    suppressing events; through the plain recipient index it read every event of every such
    recipient, most of the table once recipients have a few dozen events each. Created when the
    table is (a full build): its name carries the build's id, since the table it replaces keeps
    its own index until the swap commits. -#}
{% macro suppressing_recipients_index() -%}
    {%- if not is_incremental() -%}
    create index {{ this.identifier }}_suppressing_{{ invocation_id.replace('-', '')[:12] }}
    on {{ this }} (recipient) where {{ suppressing_event_condition() }}
    {%- else -%}
    select 1 as index_kept
    {%- endif -%}
{%- endmacro %}
