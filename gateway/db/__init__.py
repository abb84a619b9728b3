"""Database access: engine, schema, migrations."""

from .engine import Database, normalize_url
from .migrate import upgrade
from .schema import api_keys, idempotency_keys, jobs, metadata, projects

__all__ = [
    "Database",
    "api_keys",
    "idempotency_keys",
    "jobs",
    "metadata",
    "normalize_url",
    "projects",
    "upgrade",
]
