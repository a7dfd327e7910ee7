{{ config(alias='fct_email_events') }}

{{ pseudonymised_select('fct_email_events', ['recipient', 'ip_address']) }}
