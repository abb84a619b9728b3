"""A pooled PostgreSQL connection that the server closed while it sat idle (a restart, an admin's
``pg_terminate_backend``, an idle timeout) is replaced at checkout: the next read or write works,
and no request pays a ping for it (tests/gateway/test_postgres_round_trips.py counts the wire)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text

from gateway.engine.db import Database, upgrade

from ..support import postgres_available, postgres_database, require

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres_database() as url:
        yield url


def _terminate_others(url: str) -> int:
    """Terminate every other session on the database; how many were there."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
        pids = [
            row[0]
            for row in admin.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    return len(pids)


@pytest.mark.parametrize("scope", ["read", "write"])
def test_a_connection_closed_by_the_server_is_replaced_before_use(postgres_url: str, scope: str) -> None:
    db = Database(postgres_url, pool_size=1)
    upgrade(db)
    try:
        with db.read() as conn:
            before = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert _terminate_others(postgres_url) >= 1
        time.sleep(0.2)  # the FATAL message and the hang-up reach the pooled socket
        with db.read() if scope == "read" else db.write() as conn:
            after = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert after != before
    finally:
        db.dispose()
