"""In-process workers: claim a job (lease), run its adapter on a thread, heartbeat, settle.

Generation runs on a dedicated thread pool so the event loop keeps serving requests; the
database row stays the source of truth, so a worker that dies loses nothing (its lease expires,
the sweeper re-queues the job or fails and refunds it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread

from adapters import Adapter, JobCancel
from gateway.engine.artifacts import ArtifactStore
from gateway.engine.fleet import Fleet
from gateway.engine.jobs.attempts import RetryPolicy
from gateway.engine.jobs.batching import claim_batch_mates
from gateway.engine.jobs.qc_gate import QcSettlement
from gateway.engine.jobs.runner import JobRunner
from gateway.engine.jobs.store import JobStore

__all__ = ["WorkerConfig", "WorkerPool"]

log = logging.getLogger("framegate.worker")


@dataclass(frozen=True)
class WorkerConfig:
    workers: int = 1
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    poll_seconds: float = 1.0
    dispatch_window_seconds: float = 0.0  # see router.next_job; 0: strict FIFO
    max_attempts: int = 3  # claims of one job (a worker dying mid-job uses one up)
    job_deadline_seconds: float = 3600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    qc_max_frames: int = 2000  # a take over either cap gets no quality checks (Settings.qc_max_*)
    qc_max_pixels: int = 4096 * 2160
    qc_settlement: QcSettlement = "hard_defects"  # an account's own choice wins (qc_gate.account_mode)
    nice: int = 0  # generation threads run this many steps below the API's priority (Settings.worker_nice)


def lower_priority(nice: int) -> None:
    """Run the calling thread, and the threads it starts (torch's), ``nice`` steps below the rest of
    the process: the API's event loop then gets a core first while a model runs. Linux only (there
    a thread has its own priority); elsewhere a no-op."""
    if nice <= 0 or sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:
        log.warning("could not lower the generation threads' priority", exc_info=True)


class WorkerPool(JobRunner):
    """``config.workers`` concurrent job loops plus a sweeper for expired leases."""

    def __init__(
        self,
        store: JobStore,
        adapters: Mapping[str, Adapter],
        artifacts: ArtifactStore,
        config: WorkerConfig,
        fleet: Fleet | None = None,
    ) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.artifacts = artifacts
        self.config = config
        self.fleet = fleet
        self.prompt_checks = {
            s.id: s.prompt_check for a in adapters.values() for s in a.models() if s.prompt_check
        }
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        # Local backends share ``config.workers`` job loops; a hosted backend (one with a
        # ``concurrency``) gets loops of its own, so jobs waiting on a provider never hold a local GPU.
        self.lanes: list[list[str]] = []
        if config.workers:
            hosted = {n: int(c) for n, a in self.adapters.items() if (c := getattr(a, "concurrency", None))}
            local = [n for n in self.adapters if n not in hosted]
            self.lanes = [local] * config.workers if local else []
            self.lanes += [[name] for name, lanes in hosted.items() for _ in range(lanes)]
        # Spare threads: a backend that hangs keeps its thread until it notices the cancel.
        self._executor = ThreadPoolExecutor(
            max_workers=4 * max(1, len(self.lanes)),
            thread_name_prefix="fg-gen",
            initializer=lower_priority,
            initargs=(config.nice,),
        )
        self._running: dict[str, JobCancel] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._checks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        await self.sweep()
        self._tasks = [asyncio.create_task(self._loop_jobs(lane)) for lane in self.lanes]
        self._sweeper = asyncio.create_task(self._loop_sweeper())

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop claiming; running jobs stop at their next step and go back to the queue."""
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for event in list(self._running.values()):
            event.detach()
        if self._wakeup:
            self._wakeup.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
        for event in list(self._running.values()):
            event.detach()
        if self._checks:  # quality checks in flight: a short wait, then they are dropped (qc stays null)
            await asyncio.wait(self._checks, timeout=min(grace_seconds, 5.0))
        self._executor.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        """Thread-safe: tell idle workers a job was queued."""
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    def cancel_local(self, job_id: str) -> None:
        """Fast path for a cancel that arrives at this process: stop at the next step."""
        event = self._running.get(job_id)
        if event is not None:
            event.set()

    async def sweep(self) -> None:
        recovery = await to_thread.run_sync(self.store.recover_expired, self.config.max_attempts)
        for job_id in recovery.requeued:
            log.warning("re-queued %s: its worker's lease expired", job_id)
        for job_id in recovery.failed:
            log.warning("failed %s after its worker's lease expired too often; credits released", job_id)
        if recovery.requeued:
            self.wake()

    async def _loop_sweeper(self) -> None:
        while not self._stopping:
            await asyncio.sleep(max(0.2, self.config.lease_seconds / 3))
            try:
                await self.sweep()
            except Exception:
                log.exception("lease sweep failed")

    async def _loop_jobs(self, backends: list[str]) -> None:
        assert self._wakeup is not None
        while not self._stopping:
            try:
                job = await to_thread.run_sync(self._claim, backends)
            except Exception:
                log.exception("claiming a job failed")
                job = None
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.config.poll_seconds)
                self._wakeup.clear()
                continue
            mates = await to_thread.run_sync(self._mates, job)
            await (self._run_batch([job, *mates]) if mates else self._run(job))

    def _mates(self, job: Any) -> list[Any]:
        """Queued jobs that can share ``job``'s pipeline call, claimed (:mod:`.batching`); none when
        its backend does not batch."""
        adapter = self.adapters.get(job.backend)
        limit = getattr(adapter, "batch_limit", lambda model: 1)(job.model) - 1
        if limit < 1 or self._stopping or job.cancel_requested:
            return []
        return claim_batch_mates(
            self.store.db, self.store.events, self.owner, job, limit, self.config.lease_seconds
        )

    def _claim(self, backends: list[str]) -> Any:
        """Claim the next job, preferring work for models a backend already holds."""
        warm: set[tuple[str, str]] = set()
        loads: dict[str, float] = {}
        if self.fleet is not None and self.config.dispatch_window_seconds > 0:
            for name, view in self.fleet.view().backends.items():
                warm.update((name, model) for model in view.warm_models)
            loads = self.fleet.load_estimates()
        return self.store.claim(
            self.owner,
            backends,
            self.config.lease_seconds,
            warm=warm,
            window_seconds=self.config.dispatch_window_seconds,
            load_seconds=loads,
        )
