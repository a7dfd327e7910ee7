{{ config(alias='device_daily_stats') }}

{{ pseudonymised_select('device_daily_stats', []) }}
