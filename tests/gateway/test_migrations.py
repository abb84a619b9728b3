"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.engine.db import metadata


def test_migrations_match_the_models(db) -> None:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
