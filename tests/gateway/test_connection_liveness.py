"""A pooled PostgreSQL connection that the server closed while it sat idle (a restart, an admin's
``pg_terminate_backend``, an idle timeout) is replaced at checkout: the next read or write works,
and no request pays a ping for it (tests/gateway/test_postgres_round_trips.py counts the wire)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event, text

from gateway.engine.db import Database, upgrade
from gateway.engine.db.engine import retry_read

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


@pytest.mark.parametrize("scope", ["read", "write"])
def test_a_backend_told_to_end_just_before_use_costs_no_error(postgres_url: str, scope: str) -> None:
    """The window the socket cannot see: the backend was told to end (pg_terminate_backend) but has
    not yet said so when the connection is checked out. Here the backend is stopped (SIGSTOP) across
    the checkout and let go just after it, so the first statement meets the FATAL every time: a read
    is retried, and a write transaction's own BEGIN meets the dead connection and takes another."""
    db = Database(postgres_url, pool_size=1)
    upgrade(db)

    def backend_pid() -> int:
        with db.read() if scope == "read" else db.write() as conn:
            return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

    stopped: list[int] = []

    def let_go(dbapi_conn: object, record: object, proxy: object) -> None:
        while stopped:
            os.kill(stopped.pop(), signal.SIGCONT)
            time.sleep(0.05)  # the backend handles its pending SIGTERM and hangs up

    try:
        before = backend_pid()
        os.kill(before, signal.SIGSTOP)
        stopped.append(before)
        with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (before,))
        event.listen(db.engine, "checkout", let_go)
        after = retry_read(backend_pid) if scope == "read" else backend_pid()
        assert after != before
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        db.dispose()


def test_a_lost_database_connection_is_a_503_to_retry() -> None:
    """Whatever still meets a dead connection (a statement in flight when the server went away)
    answers 503 database_unavailable with Retry-After: the transaction was rolled back."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import DBAPIError

    from gateway.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/lost")
    def lost() -> None:
        raise DBAPIError(
            "SELECT 1", None, Exception("server closed the connection"), connection_invalidated=True
        )

    @app.get("/broken")
    def broken() -> None:
        raise DBAPIError("SELECT 1", None, Exception("syntax error"))

    client = TestClient(app, raise_server_exceptions=False)
    lost_response = client.get("/lost")
    assert lost_response.status_code == 503 and lost_response.headers["retry-after"] == "1"
    assert lost_response.json()["error"]["code"] == "database_unavailable"
    assert client.get("/broken").status_code == 500  # any other database error is still ours
