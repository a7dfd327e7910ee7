{{ config(alias='account_campaign_stats') }}

{{ pseudonymised_select('account_campaign_stats', []) }}
