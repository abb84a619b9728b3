"""Point reads: a single-row ``SELECT`` compiled once and run without SQLAlchemy's per-statement work.

A status poll reads the key-revocation counter and one job row. Through SQLAlchemy each read checked
a connection out of the pool, began and rolled back a transaction and built a cache key: about 0.35 ms
of the event loop's time per read, half of a poll's whole cost (``bench/tail.py``). On a SQLite file
a point read here runs its prepared statement on the calling thread's own autocommit connection (in
WAL mode a lone ``SELECT`` reads a consistent snapshot and never waits for a writer) and converts the
row with the columns' own result processors, so callers get what SQLAlchemy would give them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import Select

__all__ = ["PointRead", "SqliteReader"]


class PointRead:
    """A ``SELECT`` of at most one row whose values come as bind parameters (``bindparam("id")``)."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self.names = tuple(str(column.key) for column in statement.selected_columns)


def _row_type(names: tuple[str, ...]) -> type:
    base = namedtuple("PointRow", names)  # type: ignore[misc]

    class PointRow(base):  # type: ignore[misc,valid-type]
        """One row: attribute access as on a SQLAlchemy ``Row``, and its ``_mapping``."""

        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(self._asdict())

    return PointRow


class _Prepared:
    """A point read compiled for SQLite: its SQL, bind order and converters, and its row type."""

    def __init__(self, read: PointRead, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = read.statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.defaults = dict(compiled.params)  # literals bound in the statement, e.g. ``id == 1``
        self.binds = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or []
        ]
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in read.statement.selected_columns
        ]
        # Only the columns that need converting (JSON, booleans): most are returned as they are.
        self.results: list[tuple[int, Callable[[Any], Any]]] = [
            (i, process) for i, process in enumerate(processors) if process is not None
        ]
        self.row: Any = _row_type(read.names)

    def parameters(self, params: dict[str, Any]) -> list[Any]:
        values = {**self.defaults, **params}
        return [values[name] if process is None else process(values[name]) for name, process in self.binds]

    def convert(self, raw: tuple[Any, ...]) -> Any:
        values = list(raw)
        for i, process in self.results:
            values[i] = process(values[i])
        return self.row._make(values)


# Connections let go of in a forked child: kept, never closed or freed there (see _Held.__del__).
_FORKED: list[sqlite3.Connection] = []


class _Held:
    """A thread's connection, closed when the thread ends (its ``threading.local`` lets go of this)."""

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.pid = os.getpid()

    def __del__(self) -> None:
        if os.getpid() != self.pid:
            # A child forked while this thread was alive drops the thread's locals at once (before a
            # subprocess's exec, e.g. ffmpeg's). Closing, or freeing, the connection there can wait
            # forever on a lock another thread held at the fork: keep it instead.
            _FORKED.append(self.conn)
            return
        with contextlib.suppress(Exception):
            self.conn.close()


class SqliteReader:
    """Point reads on a SQLite file, each thread on its own read-only autocommit connection (closed
    when the thread ends, or at :meth:`close`)."""

    def __init__(self, path: str, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        self._local = threading.local()
        self._prepared: dict[int, _Prepared] = {}
        self._opened: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._lock = threading.Lock()

    def one(self, read: PointRead, params: dict[str, Any]) -> Any:
        """The row ``read`` selects with ``params``, or None."""
        prepared = self._prepared.get(id(read))
        if prepared is None:
            prepared = self._prepared[id(read)] = _Prepared(read, self.engine)
        raw = self._connection().execute(prepared.sql, prepared.parameters(params)).fetchone()
        return None if raw is None else prepared.convert(raw)

    def _connection(self) -> sqlite3.Connection:
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=1")
            held = self._local.held = _Held(conn)
            with self._lock:
                self._opened.add(held)
        return held.conn

    def close(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._lock:
            opened, self._opened = list(self._opened), weakref.WeakSet()
        for held in opened:
            held.conn.close()
        self._local = threading.local()
