"""Alembic environment: always runs on the connection the caller passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from gateway.engine.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we never run alembic without a connection
    raise RuntimeError("run migrations through gateway.engine.db.upgrade()")

if connection.dialect.name == "postgresql":
    # Several gateway processes may start together: one migrates, the others wait.
    connection.execute(text("SELECT pg_advisory_xact_lock(7262746167)"))

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
