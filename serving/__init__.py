"""The scoring job, sinks, policy job and the HTTP API."""
