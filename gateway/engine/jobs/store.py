"""Durable job rows: claim with a lease, heartbeat, progress, settle. Every settle moves credits in the
same transaction as the status change, guarded so that a job is settled at most once."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, select, update

import billing
from gateway.engine.db import Database, jobs
from gateway.engine.db.point import PointRead
from gateway.engine.events import EventBus, EventType, JobEvent
from gateway.engine.jobs.limits import limits_for
from gateway.engine.jobs.settle import settle_completed
from gateway.engine.jobs.states import COMPLETED, FAILED, IN_PROGRESS, QUEUED, claim_values
from gateway.engine.jobs.submission import JobCandidate
from router import Queued, next_job

__all__ = ["JobStore", "Recovery"]


@dataclass(frozen=True)
class Recovery:
    requeued: list[str]
    failed: list[str]


# A status poll's read: one job of one account, unless deleted.
JOB_OF_ACCOUNT = PointRead(
    select(jobs).where(
        jobs.c.id == bindparam("job_id"),
        jobs.c.account_id == bindparam("account_id"),
        jobs.c.deleted_at.is_(None),
    )
)
CLAIM_LOOKAHEAD = 64  # queued jobs a claim looks at (locked for its transaction on PostgreSQL)


class JobStore:
    """Queries and transitions on the ``jobs`` table. Each transition emits its job event on ``events``
    after its transaction commits."""

    def __init__(self, db: Database, events: EventBus | None = None) -> None:
        self.db = db
        self.events = events or EventBus()

    # -- reads -------------------------------------------------------------------------------
    def get(self, account_id: str, job_id: str) -> Any:
        """The job ``job_id`` of ``account_id`` (a row, attributes named as the columns), or None."""
        return self.db.one(JOB_OF_ACCOUNT, job_id=job_id, account_id=account_id)

    def get_any(self, job_id: str) -> Row[Any] | None:
        with self.db.read() as conn:
            return conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()

    def page(
        self, account_id: str, *, after: str | None, limit: int, order: str
    ) -> tuple[list[Row[Any]], bool]:
        query = select(jobs).where(jobs.c.account_id == account_id, jobs.c.deleted_at.is_(None))
        if after is not None:
            query = query.where(jobs.c.id < after if order == "desc" else jobs.c.id > after)
        query = query.order_by(jobs.c.id.desc() if order == "desc" else jobs.c.id.asc()).limit(limit + 1)
        with self.db.read() as conn:
            rows = list(conn.execute(query))
        return rows[:limit], len(rows) > limit

    def unfinished(self, account_id: str, also: Collection[str] = ()) -> list[Row[Any]]:
        """``account_id``'s queued and running jobs, and those of ``also`` whatever their state."""
        condition = jobs.c.status.in_((QUEUED, IN_PROGRESS)) | jobs.c.id.in_(list(also))
        with self.db.read() as conn:
            return list(conn.execute(select(jobs).where(jobs.c.account_id == account_id, condition)))

    def queue_depth(self) -> int:
        with self.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.status == QUEUED)
                ).scalar_one()
            )

    # -- worker side -------------------------------------------------------------------------
    def claim(
        self,
        owner: str,
        backends: Sequence[str],
        lease_seconds: float,
        *,
        warm: Collection[tuple[str, str]] = (),
        window_seconds: float = 0.0,
        load_seconds: Mapping[str, float] | None = None,
    ) -> Row[Any] | None:
        """Take a queued job for one of ``backends``; None if there is none.

        Among the oldest ``CLAIM_LOOKAHEAD`` queued jobs, ``router.next_job`` picks: the oldest for a
        (backend, model) pair in ``warm``, within ``window_seconds`` (at most ``LOAD_FACTOR`` times
        the oldest job's model load time, from ``load_seconds``) of the oldest job; else the oldest
        job of the model with the most jobs in that window. ``window_seconds=0`` is FIFO."""
        loads = load_seconds or {}
        now = time.time()
        with self.db.write() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.model, jobs.c.backend, jobs.c.created_at)
                .where(jobs.c.status == QUEUED, jobs.c.backend.in_(list(backends)))
                .order_by(jobs.c.id)  # ids sort by creation time (ix_jobs_status_id)
                .limit(CLAIM_LOOKAHEAD if window_seconds > 0 else 1)
                .with_for_update(skip_locked=True)
            ).all()
            pick = next_job(
                [Queued(r.id, r.model, r.created_at, r.backend, loads.get(r.model)) for r in rows],
                warm,
                window_seconds=window_seconds,
            )
            if pick is None:
                return None
            job_id = pick.id
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == QUEUED)
                .values(**claim_values(owner, now, lease_seconds))
            )
            if result.rowcount != 1:
                return None
            claimed = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        self.events.emit(JobEvent.of("video.started", claimed, seq=(claimed.attempts, claimed.started_at)))
        return claimed

    def _owned(self, job_id: str, owner: str) -> Any:
        return and_(jobs.c.id == job_id, jobs.c.status == IN_PROGRESS, jobs.c.lease_owner == owner)

    def heartbeat(self, job_id: str, owner: str, lease_seconds: float) -> tuple[bool, bool]:
        """Extend the lease. Returns (still ours, cancel requested)."""
        with self.db.write() as conn:
            result = conn.execute(
                update(jobs)
                .where(self._owned(job_id, owner))
                .values(lease_expires_at=time.time() + lease_seconds)
            )
            if result.rowcount != 1:
                return False, True
            cancel = conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar_one()
        return True, bool(cancel)

    def set_progress(self, job_id: str, owner: str, progress: int) -> None:
        with self.db.write() as conn:
            row = conn.execute(
                update(jobs)
                .where(self._owned(job_id, owner), jobs.c.progress < progress)
                .values(progress=progress)
                .returning(*jobs.c)
            ).one_or_none()
        if row is not None:
            # A fallback restarts progress on another model in the same run: the model is part of the id.
            seq = (row.attempts, row.started_at, row.model, row.backend, progress)
            self.events.emit(JobEvent.of("video.progress", row, seq=seq))

    def complete(
        self, job_id: str, owner: str, *, result: dict[str, Any], defects: list[dict[str, str]] | None = None
    ) -> bool:
        """Mark completed and have billing settle it (charge and meter usage), atomically; the job's
        ``cost_mc`` is what billing charged (``defects``: its take's hard defects, refunded). False if
        no longer ours, or if a cancel arrived while it was finishing: a cancel that was accepted is
        honoured (the job ends cancelled, refunded)."""
        ended: list[JobEvent] = []
        with self.db.write() as conn:
            done = conn.execute(
                update(jobs)
                .where(self._owned(job_id, owner), jobs.c.cancel_requested.is_(False))
                .values(
                    status=COMPLETED,
                    progress=100,
                    completed_at=time.time(),
                    result=result,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .returning(*jobs.c)
            ).one_or_none()
            if done is None:
                self._fail(conn, job_id, owner, "cancelled", "the job was cancelled", ended)
            else:
                charged, done = settle_completed(conn, done, result, defects)
                ended.append(JobEvent.of("video.completed", done, credits_mc=charged))
                self.events.record(conn, ended[-1])
        self._emit(ended)
        return done is not None

    def set_qc(self, job_id: str, qc: dict[str, Any]) -> None:
        """Attach quality-check results to a completed job (they are computed after it completes)."""
        with self.db.write() as conn:
            row = conn.execute(select(jobs.c.result).where(jobs.c.id == job_id)).one_or_none()
            if row is not None and row.result is not None:
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(result={**row.result, "qc": qc}))

    def fail(self, job_id: str, owner: str | None, code: str, message: str) -> bool:
        """Mark failed and release the hold; ``owner=None`` fails a job that is not running."""
        ended: list[JobEvent] = []
        with self.db.write() as conn:
            failed = self._fail(conn, job_id, owner, code, message, ended)
        self._emit(ended)
        return failed

    def _emit(self, events: list[JobEvent]) -> None:
        for event in events:
            self.events.emit(event)

    def _fail(
        self,
        conn: Connection,
        job_id: str,
        owner: str | None,
        code: str,
        message: str,
        ended: list[JobEvent],
    ) -> bool:
        cond = self._owned(job_id, owner) if owner else and_(jobs.c.id == job_id, jobs.c.status == QUEUED)
        done = conn.execute(
            update(jobs)
            .where(cond)
            .values(
                status=FAILED,
                completed_at=time.time(),
                error_code=code,
                error_message=message,
                cost_mc=0,
                lease_owner=None,
                lease_expires_at=None,
            )
            .returning(*jobs.c)
        ).one_or_none()
        if done is None:
            return False
        released = done.quoted_mc if billing.void(conn, job_id) else 0
        kind: EventType = "video.cancelled" if code == "cancelled" else "video.failed"
        ended.append(JobEvent.of(kind, done, credits_mc=released))
        self.events.record(conn, ended[-1])
        return True

    def switch_candidate(self, job_id: str, owner: str, candidate: JobCandidate) -> bool:
        """Move a running job to the next candidate of its fallback chain: its model, backend,
        parameters and reserve follow (the reserve grows only if balance and budgets allow).

        Raises ``InsufficientCredits`` / ``BudgetExceeded`` when the fallback cannot be paid for.
        """
        with self.db.write() as conn:
            row = conn.execute(
                select(jobs.c.key_id, jobs.c.project_id).where(self._owned(job_id, owner))
            ).one_or_none()
            if row is None:
                return False
            billing.adjust_reserve(
                conn,
                job_id,
                candidate.price_mc,
                model=candidate.model,
                limits=limits_for(conn, row.key_id, row.project_id),
            )
            conn.execute(
                update(jobs)
                .where(self._owned(job_id, owner))
                .values(
                    model=candidate.model,
                    backend=candidate.backend,
                    params=candidate.params.as_dict(),
                    quoted_mc=candidate.price_mc,
                    progress=0,
                )
            )
        return True

    def requeue(self, job_id: str, owner: str, *, count_attempt: bool = True) -> bool:
        """Give a running job back to the queue (transient error, or a clean shutdown)."""
        with self.db.write() as conn:
            values: dict[str, Any] = {
                "status": QUEUED,
                "lease_owner": None,
                "lease_expires_at": None,
                "progress": 0,
            }
            if not count_attempt:
                values["attempts"] = jobs.c.attempts - 1
            row = conn.execute(
                update(jobs).where(self._owned(job_id, owner)).values(**values).returning(*jobs.c)
            ).one_or_none()
        if row is not None:
            self.events.emit(_requeued(row))
        return row is not None

    def recover_expired(self, max_attempts: int) -> Recovery:
        """Re-queue running jobs whose lease expired (their worker died); fail those out of attempts."""
        now = time.time()
        requeued: list[str] = []
        failed: list[str] = []
        ended: list[JobEvent] = []  # failed, cancelled and requeued, sent once the transaction commits
        with self.db.write() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.attempts, jobs.c.lease_owner, jobs.c.cancel_requested).where(
                    jobs.c.status == IN_PROGRESS, jobs.c.lease_expires_at < now
                )
            ).all()
            for row in rows:
                if row.attempts >= max_attempts or row.cancel_requested:
                    code, message = (
                        ("cancelled", "the job was cancelled")
                        if row.cancel_requested
                        else (
                            "worker_lost",
                            f"the worker running this job stopped {row.attempts} "
                            "times; credits were refunded",
                        )
                    )
                    if self._fail(conn, row.id, row.lease_owner, code, message, ended):
                        failed.append(row.id)
                elif (
                    back := conn.execute(
                        update(jobs)
                        .where(self._owned(row.id, row.lease_owner))
                        .values(status=QUEUED, lease_owner=None, lease_expires_at=None, progress=0)
                        .returning(*jobs.c)
                    ).one_or_none()
                ) is not None:
                    requeued.append(row.id)
                    ended.append(_requeued(back))
        self._emit(ended)
        return Recovery(requeued, failed)

    def expire(self, before: float, limit: int = 500) -> list[str]:
        """Mark up to ``limit`` videos completed before ``before`` as expired (their clips are to be
        deleted; the job, ledger and usage rows stay). Returns their ids."""
        with self.db.write() as conn:
            ids = list(
                conn.execute(
                    select(jobs.c.id)
                    .where(
                        jobs.c.status == COMPLETED, jobs.c.completed_at < before, jobs.c.expired_at.is_(None)
                    )
                    .limit(limit)
                ).scalars()
            )
            if ids:
                conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(expired_at=time.time()))
        return ids

    def void_orphaned_reserves(self) -> list[billing.PendingReserve]:
        """Void pending reserves whose job has already ended or vanished (a hold that outlived its job);
        the holds released. No job changes state, so no job event: the caller reports them."""
        voided: list[billing.PendingReserve] = []
        with self.db.write() as conn:
            held = billing.pending_reserves(conn)
            live = {
                job_id
                for start in range(0, len(held), 500)
                for job_id in conn.execute(
                    select(jobs.c.id).where(
                        jobs.c.id.in_([r.job_id for r in held[start : start + 500]]),
                        jobs.c.status.not_in((COMPLETED, FAILED)),
                    )
                ).scalars()
            }
            for row in held:
                if row.job_id not in live and billing.void(conn, row.job_id):
                    voided.append(row)
        return voided

    # -- caller side -------------------------------------------------------------------------
    def request_cancel(self, account_id: str, job_id: str, *, delete: bool = False) -> Row[Any] | None:
        """Cancel (and optionally delete) a job. Queued jobs fail at once; running ones are flagged.

        Returns the row after the change, or None if there is no such job.
        """
        now = time.time()
        ended: list[JobEvent] = []
        with self.db.write() as conn:
            row = conn.execute(
                select(jobs).where(
                    jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.deleted_at.is_(None)
                )
            ).one_or_none()
            if row is None:
                return None
            if row.status == QUEUED:
                self._fail(conn, job_id, None, "cancelled", "the job was cancelled", ended)
            elif row.status == IN_PROGRESS:
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(cancel_requested=True))
            if delete:
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(deleted_at=now))
            after = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        self._emit(ended)
        return after


def _requeued(row: Row[Any]) -> JobEvent:
    """The event of a job back in the queue, from the row the requeue returned (not a later read,
    which could already show the next claim)."""
    return JobEvent.of("video.requeued", row, seq=(row.attempts, row.started_at))
