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
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread

import billing
from adapters import Adapter, AdapterError, Artifact, Cancelled, GenerationRequest, JobCancel, TransientError
from gateway.engine.artifacts import ArtifactStore
from gateway.engine.fleet import Fleet
from gateway.engine.jobs.attempts import CircuitOpen, RetryPolicy, run_on_backend
from gateway.engine.jobs.clips import package_clip, quality_of
from gateway.engine.jobs.derived import joined_extension
from gateway.engine.jobs.external import RowJournal
from gateway.engine.jobs.progress import ProgressWriter
from gateway.engine.jobs.qc_gate import Inspection, QcSettlement, account_mode, inspect_clip, reseed
from gateway.engine.jobs.states import FAILED
from gateway.engine.jobs.store import JobStore
from gateway.engine.jobs.submission import JobCandidate
from local_models import GenerationParams

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


class WorkerPool:
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
            max_workers=4 * max(1, len(self.lanes)), thread_name_prefix="fg-gen"
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
            await self._run(job)

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

    async def _heartbeat(self, job_id: str, cancel: JobCancel, lost: list[bool]) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                ours, cancelled = await to_thread.run_sync(
                    self.store.heartbeat, job_id, self.owner, self.config.lease_seconds
                )
            except Exception:
                log.warning("heartbeat of %s failed", job_id, exc_info=True)
                continue
            if not ours:
                lost.append(True)
                cancel.detach()  # another worker has the job now
            elif cancelled:
                cancel.set()

    async def _run(self, job: Any) -> None:
        cancel = JobCancel()
        self._running[job.id] = cancel
        # A claim that was already in flight when stop() began lands here after the shutdown sweep
        # of _running: cancel it now so it goes back to the queue instead of running unsupervised.
        if job.cancel_requested:
            cancel.set()
        elif self._stopping:
            cancel.detach()
        lost: list[bool] = []
        heartbeat = asyncio.create_task(self._heartbeat(job.id, cancel, lost))
        outcome = "failed"
        try:
            artifact, job, run_seconds, seen = await self._render(job, cancel)
            finished, decoded = await to_thread.run_sync(self._finish, job, artifact, run_seconds, seen)
            if finished:
                outcome = "completed"
                # Quality checks run optical flow: seconds on a CPU, and nothing the video waits
                # for. They land on the job a moment after it completes.
                check = asyncio.create_task(self._quality_check(job, decoded))
                self._checks.add(check)
                check.add_done_callback(self._checks.discard)
        except Cancelled:
            if self._stopping and not lost:
                await to_thread.run_sync(lambda: self.store.requeue(job.id, self.owner, count_attempt=False))
                outcome = "requeued"
            else:
                await to_thread.run_sync(
                    self.store.fail, job.id, self.owner, "cancelled", "the job was cancelled"
                )
                outcome = "cancelled"
        except AdapterError as exc:
            # Transient errors here have already been retried on every candidate they could fall back to.
            await to_thread.run_sync(self.store.fail, job.id, self.owner, exc.code, exc.message)
        except Exception:
            log.exception("job %s crashed", job.id)
            await to_thread.run_sync(
                self.store.fail,
                job.id,
                self.owner,
                "internal_error",
                "the generation crashed; credits were refunded",
            )
        finally:
            heartbeat.cancel()
            self._running.pop(job.id, None)
            if outcome != "completed":
                self.artifacts.delete_scratch(job.id)

    async def _render(self, job: Any, cancel: JobCancel) -> tuple[Artifact, Any, float, Inspection | None]:
        """Generate the take; under QC-gated settlement, screen it for hard defects and re-render it
        once, with a new seed, if it has one (:mod:`gateway.engine.jobs.qc_gate`). The inspection of
        the take delivered is None when the account's settlement is off."""
        artifact, job, run_seconds = await self._generate(job, cancel)
        mode = await to_thread.run_sync(
            account_mode, self.store.db, job.account_id, self.config.qc_settlement
        )
        if mode == "off":
            return artifact, job, run_seconds, None
        seen = await to_thread.run_sync(self._inspect, job, artifact)
        if seen.defects and job.rerender is None:
            codes = ", ".join(d["code"] for d in seen.defects)
            log.warning("%s has a hard defect (%s): re-rendering it once with a new seed", job.id, codes)
            job = await to_thread.run_sync(reseed, self.store.db, job.id, self.owner, seen.defects)
            if job is None:
                raise Cancelled("the job was cancelled or its lease was lost")
            artifact, job, more = await self._generate(job, cancel)
            run_seconds += more
            seen = await to_thread.run_sync(self._inspect, job, artifact)
        return artifact, job, run_seconds, seen

    def _inspect(self, job: Any, artifact: Artifact) -> Inspection:
        return inspect_clip(
            artifact.video_path,
            job.prompt,
            prompt_check=self.prompt_checks.get(job.model),
            max_frames=self.config.qc_max_frames,
            max_pixels=self.config.qc_max_pixels,
        )

    async def _generate(self, job: Any, cancel: JobCancel) -> tuple[Artifact, Any, float]:
        """Walk the job's candidates: retry each backend, fall back on transient failure.

        The reserve follows the candidate actually run; a candidate the account cannot pay for is
        skipped. Permanent errors and cancels propagate at once.
        """
        chain = JobCandidate.chain_of(job)
        current = next(
            (i for i, c in enumerate(chain) if (c.model, c.backend) == (job.model, job.backend)), 0
        )
        deadline = time.monotonic() + self.config.job_deadline_seconds
        journal = RowJournal(self.store.db, job.id, self.owner, job.external)
        last: AdapterError | None = None
        for index in range(current, len(chain)):
            candidate = chain[index]
            adapter = self.adapters.get(candidate.backend)
            if adapter is None:
                continue
            if index != current:
                try:
                    if not await to_thread.run_sync(
                        self.store.switch_candidate, job.id, self.owner, candidate
                    ):
                        raise Cancelled("the job's lease was lost")
                except (billing.InsufficientCredits, billing.BudgetExceeded) as exc:
                    log.info("%s: cannot fall back to %s: %s", job.id, candidate.model, exc.message)
                    continue
                job = await to_thread.run_sync(self.store.get_any, job.id)
                log.warning("%s falls back to %s on %s", job.id, job.model, job.backend)
            request = GenerationRequest(
                job_id=job.id,
                model=job.model,
                prompt=job.prompt,
                params=GenerationParams.from_dict(job.params),
                output_dir=self.artifacts.scratch_dir(job.id),
                image_path=self.artifacts.input_file(job.input_path) if job.input_path else None,
                journal=journal,
            )
            backend, model, params = job.backend, job.model, request.params

            def outcome(ok: bool, seconds: float, backend: str = backend) -> None:
                if self.fleet is not None and not ok:
                    self.fleet.record_failure(backend)

            try:
                artifact, seconds = await run_on_backend(
                    adapter,
                    request,
                    ProgressWriter(self.store, job.id, self.owner),
                    cancel,
                    self._executor,
                    self.config.retry,
                    deadline=deadline,
                    allow=self._allow(backend),
                    on_outcome=outcome,
                )
                if self.fleet is not None:
                    meta = artifact.metadata
                    load = float(meta.get("load_seconds", 0.0)) if meta.get("loaded_now") else None
                    self.fleet.record_success(backend, model, params, seconds, load_seconds=load)
                return artifact, job, seconds
            except TransientError as exc:
                # A circuit that opened on the way says less than the failure that opened it.
                if last is None or not isinstance(exc, CircuitOpen):
                    last = exc
                log.warning("%s failed on %s (%s): %s", job.id, backend, exc.code, exc.message)
                if time.monotonic() >= deadline:
                    break
        raise last or TransientError("no backend could run this job", code="no_backend_available")

    def _allow(self, backend: str) -> Callable[[], bool]:
        fleet = self.fleet
        return (lambda: fleet.allow(backend)) if fleet is not None else (lambda: True)

    async def _quality_check(self, job: Any, decoded: Any | None = None) -> None:
        def check() -> None:
            path = self.artifacts.local_path(job.id, "video")
            if path is None:  # deleted meanwhile
                return
            qc = quality_of(
                path,
                job.id,
                job.prompt,
                prompt_check=self.prompt_checks.get(job.model),
                max_frames=self.config.qc_max_frames,
                max_pixels=self.config.qc_max_pixels,
                frames=decoded,
            )
            if qc is not None:
                self.store.set_qc(job.id, qc)

        try:
            await to_thread.run_sync(check)
        except Exception:
            log.exception("quality checks of %s failed", job.id)

    def _finish(
        self, job: Any, artifact: Artifact, run_seconds: float, seen: Inspection | None
    ) -> tuple[bool, Any | None]:
        """Store the clip and settle the job (refunded when ``seen`` still has hard defects); (whether
        it completed, the frames decoded on the way)."""
        joined = joined_extension(self.artifacts, job, artifact)
        artifact = joined or artifact
        decoded = seen.frames if seen is not None and joined is None else None
        limits = {"max_frames": self.config.qc_max_frames, "max_pixels": self.config.qc_max_pixels}
        files, result, decoded = package_clip(job, artifact, run_seconds, decoded, **limits)
        self.artifacts.put(job.id, files)
        defects = seen.defects if seen is not None else None
        if not self.store.complete(job.id, self.owner, result=result, defects=defects):
            row = self.store.get_any(job.id)
            if row is not None and row.status == FAILED:  # cancelled as it finished: nothing to keep
                self.artifacts.delete(job.id)
            log.warning("%s finished after it was cancelled or lost its lease; result discarded", job.id)
            return False, None
        row = self.store.get_any(job.id)
        if row is not None and row.deleted_at is not None:
            self.artifacts.delete(job.id)
        return True, decoded
