{{ config(alias='campaign_stats') }}

{{ pseudonymised_select('campaign_stats', []) }}
