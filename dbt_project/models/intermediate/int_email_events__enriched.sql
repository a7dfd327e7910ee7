{#- The logic is macros/engagement/enriched_email_events.sql, shared with fct_email_events'
    incremental batch. -#}
{{ enriched_email_events(ref('int_email_events__unioned')) }}
