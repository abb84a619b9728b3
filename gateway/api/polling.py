"""Cheaper polls: an ``ETag`` on the video object (``If-None-Match`` -> ``304``) and an
``openai-poll-after-ms`` hint that follows the job (rarely while it waits far back, often near the end).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from gateway.engine.jobs.states import IN_PROGRESS, QUEUED

__all__ = ["etag_of", "matches", "poll_after_ms", "seconds_left"]

MAX_QUEUED_MS = 10_000  # a queued job is asked about at least every 10 s
MAX_RUNNING_MS = 5_000


def etag_of(body: bytes) -> str:
    """A weak validator for a JSON body: equal bodies, equal tags."""
    return 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def poll_after_ms(row: Any, floor_ms: int, now: float | None = None) -> int | None:
    """When to ask again about the job ``row`` (None once it is finished).

    Queued, or running without progress yet: a quarter of its estimated time left (``eta_seconds``
    from submission). Running: a third of the time left at its pace so far (from its progress), so the
    last polls come close together. Never under ``floor_ms`` (the operator's setting), never over 10 s
    queued or 5 s running. (The official SDK reads the hint of its first poll only and keeps it: that
    first hint, from the estimate, sets its whole cadence.)
    """
    now = time.time() if now is None else now
    progress = int(row.progress or 0)
    if row.status == QUEUED or (row.status == IN_PROGRESS and progress <= 0):
        left = (row.eta_seconds or 0.0) - (now - row.created_at)
        ceiling = MAX_QUEUED_MS if row.status == QUEUED else MAX_RUNNING_MS
        return _clamp(left * 1000 / 4, floor_ms, ceiling)
    if row.status == IN_PROGRESS:
        started = row.started_at or row.created_at
        left = (now - started) * (100 - progress) / progress
        return _clamp(left * 1000 / 3, floor_ms, MAX_RUNNING_MS)
    return None


def _clamp(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, value)))


def seconds_left(row: Any, now: float | None = None) -> float | None:
    """The job's estimated time to finish (None once it has): from its progress while it runs, else
    from the estimate made at submission."""
    now = time.time() if now is None else now
    progress = int(row.progress or 0)
    if row.status == IN_PROGRESS and progress > 0:
        return round(
            max(0.0, float(now - (row.started_at or row.created_at)) * (100 - progress) / progress), 1
        )
    if row.status in (QUEUED, IN_PROGRESS):
        created: float = row.created_at
        return round(max(0.0, float(row.eta_seconds or 0.0) - (now - created)), 1)
    return None
