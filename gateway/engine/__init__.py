"""The engine: jobs, workers, fleet, database, artifacts, idempotency, keys. Never imports the web."""
