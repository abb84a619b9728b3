"""Job events: one stream of what happened to each job, sent to registered sinks after it is durable.

The engine emits an event only after the transaction that made it true has committed, so a sink never
hears of a job state that a crash could still undo. Sinks are :class:`EventSink` protocols registered by
name on an :class:`EventBus` (metrics is one; webhooks and live views are others). A sink must be quick
and must not raise: one that does is logged and the others still hear the event. Sinks that must not
lose events (webhooks) persist them on receipt; an event's ``id`` is stable for the job and transition,
so a consumer can drop duplicates.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["EVENT_TYPES", "DurableSink", "EventBus", "EventSink", "EventType", "JobEvent", "RecordingSink"]

log = logging.getLogger("framegate.events")

EventType = Literal[
    "video.submitted",
    "video.started",
    "video.progress",
    "video.completed",
    "video.failed",
    "video.cancelled",
    "video.requeued",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "video.submitted",
    "video.started",
    "video.progress",
    "video.completed",
    "video.failed",
    "video.cancelled",
    "video.requeued",
)


@dataclass(frozen=True)
class JobEvent:
    """Something that happened to a job, with the job's row as it stood after the change.

    ``credits_mc`` is the money that moved with it: held on ``submitted``, charged on ``completed``,
    returned on ``failed``/``cancelled`` (0 when nothing was held any more).
    """

    id: str
    type: EventType
    job_id: str
    account_id: str
    model: str
    job: Any
    credits_mc: int = 0
    created_at: float = field(default_factory=time.time)

    @classmethod
    def of(cls, type: EventType, job: Any, *, credits_mc: int = 0, seq: object = "") -> JobEvent:
        """The event ``type`` for ``job`` (a job row). ``seq`` tells repeated transitions apart (the
        attempt of a start, the percentage of a progress) so that each has its own stable id."""
        digest = hashlib.sha256(f"{job.id}\0{type}\0{seq}".encode()).hexdigest()[:24]
        return cls(
            id=f"evt_{digest}",
            type=type,
            job_id=job.id,
            account_id=job.account_id,
            model=job.model,
            job=job,
            credits_mc=credits_mc,
        )


@runtime_checkable
class EventSink(Protocol):
    """Receives every job event, on the thread that committed it. Quick, and never raises."""

    def handle(self, event: JobEvent) -> None: ...


@runtime_checkable
class DurableSink(Protocol):
    """Writes a job's terminal event inside the transaction that ends the job (an outbox): the event
    exists if and only if the state change does. Raising rolls the state change back."""

    def record(self, conn: Connection, event: JobEvent) -> None: ...


class EventBus:
    """The registered sinks, by name; ``emit`` hands an event to each of them in registration order.
    Durable sinks (``register_durable``) also get terminal events inside their transaction."""

    def __init__(self) -> None:
        self._sinks: dict[str, EventSink] = {}
        self._durable: dict[str, DurableSink] = {}
        self._lock = threading.Lock()

    def register_durable(self, name: str, sink: DurableSink) -> None:
        """Add (or replace) the durable sink called ``name``."""
        with self._lock:
            self._durable[name] = sink

    def record(self, conn: Connection, event: JobEvent) -> None:
        """Hand ``event`` to every durable sink, inside the caller's transaction on ``conn``."""
        with self._lock:
            sinks = list(self._durable.values())
        for sink in sinks:
            sink.record(conn, event)

    def register(self, name: str, sink: EventSink) -> None:
        """Add (or replace) the sink called ``name``."""
        with self._lock:
            self._sinks[name] = sink

    def unregister(self, name: str) -> None:
        with self._lock:
            self._sinks.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._sinks)

    def emit(self, event: JobEvent) -> None:
        with self._lock:
            sinks = list(self._sinks.items())
        for name, sink in sinks:
            try:
                sink.handle(event)
            except Exception:  # one sink's failure must not hide the event from the others
                log.exception("event sink %r failed on %s for %s", name, event.type, event.job_id)


class RecordingSink:
    """Keeps every event it hears (tests, debugging)."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []
        self._lock = threading.Lock()

    def handle(self, event: JobEvent) -> None:
        with self._lock:
            self.events.append(event)

    def types(self, job_id: str | None = None) -> list[str]:
        with self._lock:
            return [e.type for e in self.events if job_id is None or e.job_id == job_id]

    def __iter__(self) -> Iterator[JobEvent]:
        with self._lock:
            return iter(list(self.events))
