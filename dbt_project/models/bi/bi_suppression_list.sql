{{ config(alias='suppression_list') }}

{{ pseudonymised_select('suppression_list', ['recipient']) }}
