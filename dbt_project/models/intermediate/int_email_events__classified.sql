{#- The logic is macros/engagement/classified_email_events.sql, shared with fct_email_events'
    incremental batch. -#}
{{ classified_email_events(ref('int_email_events__enriched')) }}
