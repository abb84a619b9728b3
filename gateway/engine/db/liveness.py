"""Checking a pooled PostgreSQL connection before use without a round trip.

SQLAlchemy's ``pool_pre_ping`` sends a query on every checkout: on a status poll, two round trips
of four. Instead, a connection is checked where the answer already is: an idle connection is sent
nothing by the server unless it is closing it (a terminated backend writes its FATAL error and hangs
up; a crashed server's socket reads EOF), so a socket with anything to read is dead. A connection
idle longer than ``ping_after`` seconds (long enough for a silent network drop) still gets a real
ping. A dead connection raises ``DisconnectionError`` in the checkout event, and the pool replaces
it before the caller sees it.

The socket cannot tell a backend that was told to end a moment ago and has not yet said so. For that
window, reads are retried once (``Database.one``, ``run_read``), a write transaction's own BEGIN is
retried on another connection (``Database.write``: a BEGIN may be repeated, a write never blindly),
and what still fails is a ``503 database_unavailable`` with ``Retry-After``, never a 500.
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

__all__ = ["check_on_checkout"]

_IDLE_SINCE = "framegate_idle_since"


def _hung_up(dbapi_conn: Any) -> bool:
    """True when the connection is known broken or its socket has something to read while idle."""
    if dbapi_conn.closed or getattr(dbapi_conn, "broken", False):
        return True
    try:
        fd = dbapi_conn.fileno()
    except Exception:  # closed under us: psycopg raises OperationalError
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def check_on_checkout(engine: Engine, *, ping_after: float = 30.0) -> None:
    """Replace dead connections at checkout: by the socket test, or by a ping after a long idle."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if _hung_up(dbapi_conn):
            raise DisconnectionError("the server closed this connection while it was idle")
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and time.monotonic() - idle_since > ping_after:
            try:
                alive = engine.dialect.do_ping(dbapi_conn)
            except Exception as exc:
                raise DisconnectionError("the connection failed its ping after a long idle") from exc
            if not alive:
                raise DisconnectionError("the connection failed its ping after a long idle")
