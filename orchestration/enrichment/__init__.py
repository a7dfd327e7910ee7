"""Lookups computed once per distinct key (user agent, IP address) for the dbt models: what a
user agent says about the device and client, where an IP address is. See docs/engagement.md."""
