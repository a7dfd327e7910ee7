{{ config(alias='link_clicks_daily') }}

{{ pseudonymised_select('link_clicks_daily', []) }}
