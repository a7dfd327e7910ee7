{{ config(alias='shoot_stats') }}

{{ pseudonymised_select('shoot_stats', []) }}
