"""Database access: engine, schema, migrations."""

from gateway.engine.db.engine import Database, normalize_url
from gateway.engine.db.migrate import upgrade
from gateway.engine.db.schema import (
    api_keys,
    characters,
    cuts,
    idempotency_keys,
    jobs,
    key_revocations,
    metadata,
    projects,
    sessions,
    shots,
    takes,
)
from gateway.engine.db.webhook_schema import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
    webhook_secrets,
)

__all__ = [
    "Database",
    "api_keys",
    "characters",
    "cuts",
    "idempotency_keys",
    "jobs",
    "key_revocations",
    "metadata",
    "normalize_url",
    "projects",
    "sessions",
    "shots",
    "takes",
    "upgrade",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_events",
    "webhook_secrets",
]
