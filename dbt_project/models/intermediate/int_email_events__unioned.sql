{#- Every event, canonical: the logic is macros/email_events.sql, shared with fct_email_events'
    incremental batch. -#}
{{ email_events() }}
