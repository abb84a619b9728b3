"""Batched generation: queued jobs that one pipeline call can run together.

Jobs batch when they are text-to-video on the same model and backend with the same parameters but
their seed (size, frames, fps, steps, guidance, negative prompt), with no input image, no audio and
no source clip. Each job keeps its own lease, seed, prompt, progress, cancel and bill: a batch is
only how the device runs them. A backend opts in with ``batch_limit(model) > 1``
(:class:`adapters.LocalAdapter`: on CUDA by default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from sqlalchemy import select, update

from adapters import AdapterError, Artifact, Cancelled, GenerationRequest, JobCancel, is_detached
from adapters.base import ProgressCallback
from gateway.engine.db import Database, jobs
from gateway.engine.events import JobEvent
from gateway.engine.jobs.attempts import AnyEvent, validate_artifact
from gateway.engine.jobs.states import QUEUED, claim_values

__all__ = ["batch_key", "claim_batch_mates", "generate_together"]

log = logging.getLogger("framegate.worker")

LOOKAHEAD = 32  # queued jobs of the model looked at for mates


def batch_key(job: Any) -> tuple[Any, ...] | None:
    """What must match for ``job`` to share a pipeline call; None when it cannot be batched."""
    params = dict(job.params or {})
    if params.get("mode") != "t2v" or params.get("audio") or job.input_path or job.source_kind:
        return None
    params.pop("seed", None)
    return (job.model, job.backend, tuple(sorted((k, repr(v)) for k, v in params.items())))


def claim_batch_mates(
    db: Database, events: Any, owner: str, job: Any, limit: int, lease_seconds: float
) -> list[Any]:
    """Claim up to ``limit`` more queued jobs that can share ``job``'s pipeline call (oldest first),
    as :meth:`JobStore.claim` claims one; their rows."""
    key = batch_key(job)
    if key is None or limit < 1:
        return []
    now = time.time()
    claimed: list[Any] = []
    with db.write() as conn:
        rows = conn.execute(
            select(jobs)
            .where(jobs.c.status == QUEUED, jobs.c.model == job.model, jobs.c.backend == job.backend)
            .order_by(jobs.c.id)
            .limit(LOOKAHEAD)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            if len(claimed) >= limit or batch_key(row) != key:
                continue
            taken = conn.execute(
                update(jobs)
                .where(jobs.c.id == row.id, jobs.c.status == QUEUED)
                .values(**claim_values(owner, now, lease_seconds))
                .returning(*jobs.c)
            ).one_or_none()
            if taken is not None:
                claimed.append(taken)
    for row in claimed:
        events.emit(JobEvent.of("video.started", row, seq=(row.attempts, row.started_at)))
    return claimed


async def generate_together(
    adapter: Any,
    requests: list[GenerationRequest],
    progress: list[ProgressCallback],
    cancels: list[JobCancel],
    executor: Executor,
    *,
    timeout_seconds: float,
    on_cancelled: Callable[[int], Awaitable[None]],
) -> list[tuple[Artifact, float] | None]:
    """Run ``requests`` as one ``adapter.generate_batch`` call; per request, its artifact and its share
    of the call's seconds, or None (cancelled, or the batch failed: the caller then runs it alone).

    A request whose cancel fires mid-batch (a user's cancel, not a hand-over) leaves the batch at
    once: ``on_cancelled(index)`` ends its job, and the others go on.
    """
    loop = asyncio.get_running_loop()
    timed_out = JobCancel()
    stops = [AnyEvent(c, timed_out) for c in cancels]
    started = time.perf_counter()
    future = loop.run_in_executor(executor, adapter.generate_batch, requests, progress, stops)
    left: set[int] = set(range(len(requests)))
    deadline = time.monotonic() + timeout_seconds
    while not future.done():
        await asyncio.wait([future], timeout=0.1)
        for index in sorted(left):
            if cancels[index].is_set() and not is_detached(cancels[index]):
                left.discard(index)
                await on_cancelled(index)
        if time.monotonic() > deadline and not future.done():
            timed_out.detach()
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            log.warning(
                "a batch of %d did not finish in %.0f s: its jobs run alone", len(requests), timeout_seconds
            )
            return [None] * len(requests)
    try:
        artifacts = future.result()
    except (Cancelled, AdapterError, Exception) as exc:
        log.warning("a batch of %d failed (%s): its jobs run alone", len(requests), exc)
        return [None] * len(requests)
    share = (time.perf_counter() - started) / len(requests)
    out: list[tuple[Artifact, float] | None] = []
    for request, artifact in zip(requests, artifacts, strict=True):
        if artifact is None:
            out.append(None)
            continue
        try:
            await asyncio.to_thread(validate_artifact, artifact, request.params)
        except AdapterError as exc:
            log.warning("%s: its clip from the batch is unusable (%s): it runs alone", request.job_id, exc)
            out.append(None)
            continue
        out.append((artifact, share))
    return out
