{{ config(alias='campaign_daily_stats') }}

{{ pseudonymised_select('campaign_daily_stats', []) }}
