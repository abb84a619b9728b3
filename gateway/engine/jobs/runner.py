"""Running one claimed job (or a batch of them) to its end: generate on its fallback chain with
retries, screen the take for hard defects (a free re-render, then a refund), store the clip, settle,
then the full quality checks. :class:`~gateway.engine.jobs.worker.WorkerPool` claims the jobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from anyio import to_thread

import billing
from adapters import Adapter, AdapterError, Artifact, Cancelled, GenerationRequest, JobCancel, TransientError
from gateway.engine.artifacts import ArtifactStore
from gateway.engine.fleet import Fleet
from gateway.engine.jobs.attempts import CircuitOpen, run_on_backend
from gateway.engine.jobs.batching import generate_together
from gateway.engine.jobs.clips import package_clip, quality_of
from gateway.engine.jobs.derived import joined_extension
from gateway.engine.jobs.external import RowJournal
from gateway.engine.jobs.progress import ProgressWriter
from gateway.engine.jobs.qc_gate import Inspection, account_mode, inspect_clip, reseed
from gateway.engine.jobs.states import FAILED
from gateway.engine.jobs.store import JobStore
from gateway.engine.jobs.submission import JobCandidate
from local_models import GenerationParams

if TYPE_CHECKING:
    from gateway.engine.jobs.worker import WorkerConfig

__all__ = ["JobRunner"]

T = TypeVar("T")
log = logging.getLogger("framegate.worker")


class JobRunner:
    """What :class:`~gateway.engine.jobs.worker.WorkerPool` does with a job it claimed (its base)."""

    store: JobStore
    adapters: dict[str, Adapter]
    artifacts: ArtifactStore
    config: WorkerConfig
    fleet: Fleet | None
    owner: str
    prompt_checks: Mapping[str, str | None]
    _executor: ThreadPoolExecutor
    _running: dict[str, JobCancel]
    _checks: set[asyncio.Task[None]]
    _stopping: bool

    async def _run_batch(self, jobs: list[Any]) -> None:
        """Generate ``jobs`` in one pipeline call, then finish each as :meth:`_run` does (QC gate,
        settlement); a job the batch could not make runs alone, with its retries and fallbacks."""
        cancels = [JobCancel() for _ in jobs]
        lost: list[list[bool]] = [[] for _ in jobs]
        for job, cancel in zip(jobs, cancels, strict=True):
            self._running[job.id] = cancel
            if job.cancel_requested:
                cancel.set()
        beats = [
            asyncio.create_task(self._heartbeat(j.id, c, x))
            for j, c, x in zip(jobs, cancels, lost, strict=True)
        ]

        async def cancelled(index: int) -> None:  # it leaves the batch now: cancelled and refunded
            job = jobs[index]
            await to_thread.run_sync(
                self.store.fail, job.id, self.owner, "cancelled", "the job was cancelled"
            )

        try:
            requests = [
                GenerationRequest(
                    j.id,
                    j.model,
                    j.prompt,
                    GenerationParams.from_dict(j.params),
                    self.artifacts.scratch_dir(j.id),
                )
                for j in jobs
            ]
            ready = await generate_together(
                self.adapters[jobs[0].backend],
                requests,
                [ProgressWriter(self.store, j.id, self.owner) for j in jobs],
                cancels,
                self._executor,
                timeout_seconds=self.config.retry.timeout_seconds,
                on_cancelled=cancelled,
            )
        finally:
            for beat in beats:
                beat.cancel()
        await asyncio.gather(*(self._run(j, r, c) for j, r, c in zip(jobs, ready, cancels, strict=True)))

    async def _on_pool(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the generation pool, whose threads run below the API's priority: decoding,
        quality checks and encoding are as CPU-hungry as generation."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

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

    async def _run(
        self, job: Any, ready: tuple[Artifact, float] | None = None, cancel: JobCancel | None = None
    ) -> None:
        """Run a claimed job to its end; ``ready``: its clip, already made (in a batch), and seconds."""
        cancel = cancel or JobCancel()
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
            if ready is not None and cancel.is_set():
                raise Cancelled("the job was cancelled")
            artifact, job, run_seconds, seen = await self._render(job, cancel, ready)
            finished, judged = await self._on_pool(self._finish, job, artifact, run_seconds, seen)
            if finished:
                outcome = "completed"
                # Quality checks run optical flow: seconds on a CPU, and nothing the video waits
                # for. They land on the job a moment after it completes.
                check = asyncio.create_task(self._quality_check(job, *judged))
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

    async def _render(
        self, job: Any, cancel: JobCancel, ready: tuple[Artifact, float] | None = None
    ) -> tuple[Artifact, Any, float, Inspection | None]:
        """Generate the take; under QC-gated settlement, screen it for hard defects and re-render it
        once, with a new seed, if it has one (:mod:`gateway.engine.jobs.qc_gate`). The inspection of
        the take delivered is None when the account's settlement is off."""
        artifact, job, run_seconds = (ready[0], job, ready[1]) if ready else await self._generate(job, cancel)
        mode = await to_thread.run_sync(
            account_mode, self.store.db, job.account_id, self.config.qc_settlement
        )
        if mode == "off":
            return artifact, job, run_seconds, None
        seen = await self._on_pool(self._inspect, job, artifact)
        if seen.defects and job.rerender is None:
            codes = ", ".join(d["code"] for d in seen.defects)
            log.warning("%s has a hard defect (%s): re-rendering it once with a new seed", job.id, codes)
            job = await to_thread.run_sync(reseed, self.store.db, job.id, self.owner, seen.defects)
            if job is None:
                raise Cancelled("the job was cancelled or its lease was lost")
            artifact, job, more = await self._generate(job, cancel)
            run_seconds += more
            seen = await self._on_pool(self._inspect, job, artifact)
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

    async def _quality_check(self, job: Any, decoded: Any | None = None, start: int = 0) -> None:
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
                fps=float(job.params.get("fps") or 0) or None,
                start=start,
            )
            if qc is not None:
                self.store.set_qc(job.id, qc)

        try:
            await self._on_pool(check)
        except Exception:
            log.exception("quality checks of %s failed", job.id)

    def _finish(
        self, job: Any, artifact: Artifact, run_seconds: float, seen: Inspection | None
    ) -> tuple[bool, tuple[Any | None, int]]:
        """Store the clip and settle the job (refunded when ``seen`` still has hard defects); (whether
        it completed, what the full checks judge: frames decoded on the way and where they start).

        An extension is settled on its new segment, what was generated and billed, so its stored
        checks judge that segment too (they used to judge the joined clip, and could pass a
        segment that was refunded); their flags' frames count from the joined clip's start."""
        screened = seen.frames if seen is not None else None
        joined = joined_extension(self.artifacts, job, artifact)
        limits = {"max_frames": self.config.qc_max_frames, "max_pixels": self.config.qc_max_pixels}
        if joined is None:
            files, result, decoded = package_clip(job, artifact, run_seconds, screened, **limits)
            judged: tuple[Any | None, int] = (decoded, 0)
        else:
            files, result, _ = package_clip(job, joined, run_seconds, None, **limits)
            # Without the segment's frames (over the caps), the checks decode the joined clip.
            judged = (
                (screened, max(0, joined.frames - artifact.frames)) if screened is not None else (None, 0)
            )
        self.artifacts.put(job.id, files)
        defects = seen.defects if seen is not None else None
        if not self.store.complete(job.id, self.owner, result=result, defects=defects):
            row = self.store.get_any(job.id)
            if row is not None and row.status == FAILED:  # cancelled as it finished: nothing to keep
                self.artifacts.delete(job.id)
            log.warning("%s finished after it was cancelled or lost its lease; result discarded", job.id)
            return False, (None, 0)
        row = self.store.get_any(job.id)
        if row is not None and row.deleted_at is not None:
            self.artifacts.delete(job.id)
        return True, judged
