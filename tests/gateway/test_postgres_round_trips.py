"""What PostgreSQL is sent for a poll and for a create, counted at the wire: libpq's protocol trace of
every pooled connection, one round trip per ``ReadyForQuery``. A poll is two (the key check, the
job: reads are not pinged and open no transaction); a create is five (the key check, then the write
transaction's four: BEGIN, which is also its liveness check, the account's lock with its budgets,
the job with its history and credit hold, COMMIT)."""

from __future__ import annotations

import ctypes
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from ..support import auth, make_settings, postgres_available, postgres_database, require, running_gateway

pytestmark = pytest.mark.postgres

# Background loops that share the pool (webhook delivery) and the fleet's cached queue snapshot.
_BACKGROUND = ("webhook_deliveries", "GROUP BY")


def _round_trips(text: str) -> list[str]:
    """The round trips in one connection's trace, each named by what was sent."""
    trips, sent = [], []
    for message in re.split(r"\n(?=[FB]\t)", text):  # a statement's text may span lines
        fields = message.split("\t", 3)
        if len(fields) < 3:
            continue
        if fields[0] == "F" and fields[2] in ("Query", "Parse"):
            quoted = re.findall(r'"((?:[^"]|"")*)"', fields[3], re.S)  # Parse: statement name, then its text
            sent.append(quoted[0 if fields[2] == "Query" else 1])
        elif fields[0] == "B" and fields[2] == "ReadyForQuery":
            trips.append(" ".join(" ".join(sent).split()))
            sent = []
    return trips


def _flush_libc() -> None:
    """libpq writes its trace through a buffered C ``FILE``: flush them all (``fflush(NULL)``)."""
    ctypes.CDLL(None).fflush(None)


class Wire:
    """Traces each connection the engine opens into its own file."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self.files: list[Any] = []
        self.folder = folder
        self._n = itertools.count()
        event.listen(engine, "connect", self._trace)

    def _trace(self, dbapi_conn: Any, record: Any) -> None:
        import psycopg

        out = (self.folder / f"conn-{next(self._n)}.trace").open("w")
        self.files.append(out)
        dbapi_conn.pgconn.trace(out.fileno())
        dbapi_conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    @contextmanager
    def watch(self) -> Iterator[list[str]]:
        """The round trips sent inside the block (the background's left out)."""
        _flush_libc()
        start = {f.name: Path(f.name).stat().st_size for f in self.files}
        trips: list[str] = []
        yield trips
        _flush_libc()
        for f in self.files:
            with open(f.name) as read:
                read.seek(start.get(f.name, 0))
                trips += [t for t in _round_trips(read.read()) if not any(b in t for b in _BACKGROUND)]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres_database() as url:
        yield url


async def test_a_poll_is_two_round_trips_and_a_create_is_five(
    tmp_path: Path, postgres_url: str, models_dir: Path
) -> None:
    async with running_gateway(make_settings(tmp_path, postgres_url, models_dir, workers=0)) as gw:
        wire = Wire(gw.state.db.engine, tmp_path)
        gw.state.db.engine.dispose()  # from here on every connection is a traced one
        key = gw.new_key(credits=100)
        first = await gw.create(key, model="fake-video", prompt="warm up")
        assert first.status_code == 200, first.text

        with wire.watch() as created:
            response = await gw.create(key, model="fake-video", prompt="a red square")
        assert response.status_code == 200, response.text
        with wire.watch() as polled:
            poll = await gw.client.get(f"/v1/videos/{response.json()['id']}", headers=auth(key))
        assert poll.status_code == 200 and poll.json()["status"] == "queued"

    assert len(polled) == 2 and all(t.startswith("SELECT") for t in polled), polled
    key_check = [t for t in created if "key_revocations" in t]
    transaction = [t for t in created if "key_revocations" not in t]  # one connection's, in order
    assert len(key_check) == 1, created
    assert [t.split()[0] for t in transaction] == ["BEGIN", "SELECT", "WITH", "COMMIT"], created
    assert "FOR UPDATE" in transaction[1], created
    for trip in key_check + polled:
        assert trip not in (";", "SELECT 1", "ROLLBACK"), (trip, created, polled)
