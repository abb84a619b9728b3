"""Database access: engine, schema, migrations."""

from .engine import Database, normalize_url
from .migrate import upgrade
from .schema import api_keys, jobs, metadata

__all__ = ["Database", "api_keys", "jobs", "metadata", "normalize_url", "upgrade"]
