{{ config(alias='pinpoint_treatment_stats') }}

{{ pseudonymised_select('pinpoint_treatment_stats', []) }}
