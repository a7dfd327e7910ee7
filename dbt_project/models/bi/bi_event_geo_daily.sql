{{ config(alias='event_geo_daily') }}

{{ pseudonymised_select('event_geo_daily', []) }}
