"""Database access: engine, schema, migrations."""

from gateway.engine.db.engine import Database, normalize_url
from gateway.engine.db.migrate import upgrade
from gateway.engine.db.schema import (
    api_keys,
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

__all__ = [
    "Database",
    "api_keys",
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
]
