{{ config(alias='campaign_variation_stats') }}

{{ pseudonymised_select('campaign_variation_stats', []) }}
