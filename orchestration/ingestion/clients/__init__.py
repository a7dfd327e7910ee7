"""HTTP clients of the provider APIs: ``http_json`` (GET with bearer auth, timeouts, retries),
``emailit`` (the events API and its cursor) and ``tracker`` (the open-events API)."""
