"""Engines for SQLite (embedded default) and PostgreSQL, with explicit read and write transactions.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE``
so that two writers queue on the lock instead of failing half-way with ``database is locked``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gateway.engine.db.liveness import check_on_checkout
from gateway.engine.db.point import PointRead, SqliteReader

__all__ = ["Database", "normalize_url"]

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Pick the drivers Framegate ships with (psycopg 3 for PostgreSQL)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """A SQLAlchemy engine plus ``read()`` / ``write()`` transaction scopes."""

    def __init__(self, url: str, *, pool_size: int = 40) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs.update(pool_size=pool_size, max_overflow=10, connect_args={"timeout": 30})
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        self.engine: Engine = create_engine(self.url, **kwargs)
        # SQLite has one writer at a time. Queue this process's writers on a lock instead of
        # letting them sleep in SQLite's busy handler (its back-off is what makes p99 latency
        # explode); other processes still wait through busy_timeout.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # Striped: two rows may share a queue, which costs little (each holds it for one transaction);
        # reentrant, so that a thread never waits for a queue it holds under another row's name.
        self._row_queues = [threading.RLock() for _ in range(256)]
        self._points: SqliteReader | None = None
        self._reader: Engine = self.engine
        if not self.is_sqlite:
            check_on_checkout(self.engine)
            # Reads run in autocommit: under READ COMMITTED each statement takes its own snapshot
            # anyway, so a read-only transaction only added a BEGIN and a ROLLBACK round trip.
            self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        else:
            _configure_sqlite(self.engine)
            # A plain file: in-memory and URI-style databases keep to SQLAlchemy's connections.
            if parsed.database not in (None, "", ":memory:") and not parsed.query:
                self._points = SqliteReader(parsed.database, self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read scope: on SQLite a transaction rolled back at the end (one snapshot), elsewhere
        autocommit statements (each its own READ COMMITTED snapshot). Never write in it."""
        with self._reader.connect() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only scope whose statements all see one snapshot (a check that reads several tables,
        such as the ledger's, must not see a commit land between two of its reads): on PostgreSQL a
        REPEATABLE READ transaction; on SQLite a read transaction already is one."""
        if self.is_sqlite:
            with self.read() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self, queue_on: str | None = None) -> Iterator[Connection]:
        """A write transaction, committed on success, rolled back on error.

        ``queue_on``: the row this transaction will lock first (an account's id). This process's
        writes that name the same row wait for each other here, before taking a connection, instead
        of in the database: dozens of transactions queued on one row lock each hold a connection and
        a snapshot, and PostgreSQL's lock manager wakes them all at every commit (one account's
        creates from 64 connections on 2 processes had a p99 of 1.2-1.6 s queued there, 0.4-0.7 s
        queued here). Across processes they still queue in the database, one per process."""
        if self._write_lock is None:
            with self._queued(queue_on), self._begun() as conn:
                yield conn
                conn.commit()
            return
        with self._write_lock, self.engine.connect() as conn:
            conn.execution_options(framegate_write=True)
            with conn.begin():
                yield conn

    def _queued(self, key: str | None) -> AbstractContextManager[object]:
        if key is None:
            return nullcontext()
        return self._row_queues[hash(key) % len(self._row_queues)]

    def _begun(self) -> Connection:
        """A server connection in a transaction this opened with its own ``BEGIN``, for a write.

        The connection is in autocommit, so the driver does not slip its own BEGIN in before the
        first statement: the BEGIN is the transaction's first round trip, and a connection the
        server closed fails there, before anything is written, and is replaced. (A write is never
        repeated blindly, it may have been applied; a BEGIN may be.) It used to be a ping first,
        a round trip of its own. Reads skip both (see :mod:`gateway.engine.db.liveness`) and are
        retried instead. Closing the connection rolls back what was not committed."""
        for retry in (False, True):
            conn = self._reader.connect()
            try:
                conn.execution_options(framegate_write=True)
                conn.exec_driver_sql("BEGIN")
                return conn
            except DBAPIError as exc:
                conn.close()
                if retry or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def one(self, read: PointRead, **params: Any) -> Any:
        """The one row (or None) of a point read: on a SQLite file without SQLAlchemy's per-statement
        work (see :mod:`gateway.engine.db.point`), elsewhere as any other read (retried once on a
        connection the server had closed)."""
        if self._points is not None:
            return self._points.one(read, params)

        def read_row() -> Any:
            with self.read() as conn:
                return conn.execute(read.statement, params).one_or_none()

        return retry_read(read_row)

    async def run_read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a short read from async code.

        SQLite point reads take tens of microseconds and, in WAL mode, never wait for a writer,
        so they run inline: a thread hop would cost more than the query, and many threads
        re-acquiring the GIL after each SQLite call queue behind each other. Other databases
        wait on the network, so their reads go to a worker thread.
        """
        if self.is_sqlite:
            return fn(*args)
        return await to_thread.run_sync(retry_read, fn, *args)

    def checkpoint(self) -> None:
        """Fold the SQLite WAL back into the database file (no-op elsewhere). Never blocks writers."""
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def dispose(self) -> None:
        if self._points is not None:
            self._points.close()
        self.engine.dispose()


def retry_read(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, run again once if the server had closed its connection (a read is safe to
    repeat; the pool has replaced the connection by then)."""
    try:
        return fn(*args)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return fn(*args)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Take transaction control from the driver so that we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # wal_autocheckpoint=0: the checkpoint (an fsync) would otherwise land inside whichever
        # request happens to commit the 1000th page; checkpoint() runs it in the background.
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            "wal_autocheckpoint=0",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("framegate_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
