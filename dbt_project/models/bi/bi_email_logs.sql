{{ config(alias='email_logs') }}

{{ pseudonymised_select('email_logs', ['recipient']) }}
