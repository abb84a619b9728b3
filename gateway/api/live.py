"""Push and wait: ``GET /v1/videos/{id}/events`` (server-sent events) and ``Prefer: wait=N``.

A job's changes reach a waiter two ways: the job-event bus wakes it at once when the job runs in this
process (:class:`JobWatch` is an event sink), and a light poll of the job row (every
``POLL_SECONDS``) sees changes made by any other gateway process.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from gateway.api.contract import documented
from gateway.api.deps import app_state, principal
from gateway.api.polling import etag_of, seconds_left
from gateway.api.schemas import video_object
from gateway.engine.events import JobEvent
from gateway.engine.ids import is_video_id
from gateway.engine.jobs.states import COMPLETED, FAILED
from gateway.engine.keys import Principal
from gateway.engine.links import VideoLinks
from gateway.errors import BadRequest, NotFound
from gateway.state import AppState

__all__ = ["JobWatch", "changed", "prefer_wait", "router", "wait_until_done"]

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0

router = APIRouter(prefix="/v1/videos", tags=["videos"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


class JobWatch:
    """Wakes the coroutines waiting on a job when one of its events is emitted (from any thread)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()

    def handle(self, event: JobEvent) -> None:
        with self._lock:
            waiters = [*self._waiters.get(event.job_id, ()), *self._waiters.get(event.account_id, ())]
        for loop, flag in waiters:
            loop.call_soon_threadsafe(flag.set)

    @contextmanager
    def watching(self, key: str) -> Iterator[asyncio.Event]:
        """An event set whenever something happens to the job ``key`` (or to any job of the account
        ``key``: the dashboard's live view follows a whole account)."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(key, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                waiting = self._waiters.get(key, set())
                waiting.discard(entry)
                if not waiting:
                    self._waiters.pop(key, None)


async def changed(flag: asyncio.Event, timeout: float) -> None:
    """Until ``flag`` is set (a change in this process) or ``timeout`` passes (time to look at the
    database, for changes made by other processes)."""
    with suppress(TimeoutError):
        await asyncio.wait_for(flag.wait(), timeout)
    flag.clear()


_WAIT = re.compile(r"^\s*wait\s*=\s*([0-9]{1,6})\s*$", re.IGNORECASE)


def prefer_wait(request: Request, cap: float) -> float | None:
    """Seconds asked for with ``Prefer: wait=N`` (RFC 7240), at most ``cap``; None if not asked."""
    header = request.headers.get("prefer")
    if header is None:
        return None
    for token in header.split(","):
        if token.strip().lower().startswith("wait"):
            found = _WAIT.match(token)
            if found is None or not 1 <= int(found.group(1)) <= cap:
                raise BadRequest(
                    f"Prefer: wait must be a whole number of seconds from 1 to {cap:g}",
                    code="invalid_prefer_wait",
                    param="Prefer",
                )
            return float(found.group(1))
    return None


async def _read(state: AppState, account_id: str, video_id: str) -> Any:
    return await state.db.run_read(state.jobs.get, account_id, video_id)


async def wait_until_done(state: AppState, account_id: str, row: Any, seconds: float) -> Any | None:
    """``row``'s job once it is completed or failed, or as it stands after ``seconds``; None as soon
    as it is deleted meanwhile."""
    deadline = time.monotonic() + seconds
    with state.watch.watching(row.id) as flag:
        while row.status not in (COMPLETED, FAILED):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await changed(flag, min(POLL_SECONDS, left))
            row = await _read(state, account_id, row.id)
            if row is None:
                return None
    return row


def _version(row: Any) -> str:
    """The id of the job's event as it stands. A finished job's id names its end, not its object:
    quality checks land after it completes, and a client that saw the end must not get it again on
    reconnecting."""
    if row.status in (COMPLETED, FAILED):
        return f"{row.id}.{row.status}"
    return etag_of(json.dumps(video_object(row)).encode())[3:-1]


def _event(row: Any, links: VideoLinks, version: str) -> str:
    """The server-sent event of the job as it stands (built only when its version changed)."""
    body = video_object(row, links)
    body["eta_seconds_left"] = seconds_left(row)
    name = f"video.{row.status}" if row.status in (COMPLETED, FAILED) else "video.progress"
    return f"event: {name}\nid: {version}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


async def _stream(state: AppState, account_id: str, row: Any, last_id: str | None) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    with state.watch.watching(row.id) as flag:
        sent = last_id
        quiet_since = time.monotonic()
        while True:
            version = _version(row)
            if version != sent:
                yield _event(row, state.links, version)
                sent, quiet_since = version, time.monotonic()
            if row.status in (COMPLETED, FAILED):
                return
            if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            await changed(flag, POLL_SECONDS)
            fresh = await _read(state, account_id, row.id)
            if fresh is None:  # deleted meanwhile
                yield 'event: video.deleted\ndata: {"id":"' + row.id + '"}\n\n'
                return
            row = fresh


@router.get(
    "/{video_id}/events",
    response_class=StreamingResponse,
    **documented(media={"text/event-stream": {"type": "string"}}, errors=(404,)),
)
async def video_events(
    video_id: str, request: Request, state: StateDep, who: PrincipalDep
) -> StreamingResponse:
    """Server-sent events for a video: ``video.progress`` (status, progress, ``eta_seconds_left``) on
    every change, then ``video.completed`` or ``video.failed`` with the final object, and the stream
    ends. Each event's ``id`` is the object's version: reconnect with ``Last-Event-ID`` to skip what
    you have. A ``: keep-alive`` comment every 15 s keeps proxies from closing a quiet stream."""
    row = await _read(state, who.account_id, video_id) if is_video_id(video_id) else None
    if row is None:
        raise NotFound(f"no video with id {video_id!r}", code="video_not_found", param="video_id")
    return StreamingResponse(
        _stream(state, who.account_id, row, request.headers.get("last-event-id")),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
