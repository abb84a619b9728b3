"""Durable job rows: claim with a lease, heartbeat, progress, settle. Every settle moves credits in the
same transaction as the status change, guarded so that a job is settled at most once."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select, update

import billing
from router import Queued, next_job

from ..db import Database, jobs
from .states import COMPLETED, FAILED, IN_PROGRESS, QUEUED

__all__ = ["JobStore", "Recovery"]


@dataclass(frozen=True)
class Recovery:
    requeued: list[str]
    failed: list[str]


CLAIM_LOOKAHEAD = 64  # queued jobs a claim looks at (locked for its transaction on PostgreSQL)

SettleHook = Callable[[str, str, int], None]
"""Called after a commit with (``"captured"`` or ``"released"``, model, millicredits)."""


class JobStore:
    """Queries and transitions on the ``jobs`` table."""

    def __init__(self, db: Database, on_settle: SettleHook | None = None) -> None:
        self.db = db
        self.on_settle = on_settle or (lambda kind, model, amount_mc: None)

    # -- reads -------------------------------------------------------------------------------
    def get(self, account_id: str, job_id: str) -> Row[Any] | None:
        with self.db.read() as conn:
            return conn.execute(
                select(jobs).where(
                    jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.deleted_at.is_(None)
                )
            ).one_or_none()

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
                .values(
                    status=IN_PROGRESS,
                    lease_owner=owner,
                    lease_expires_at=now + lease_seconds,
                    started_at=now,
                    attempts=jobs.c.attempts + 1,
                    progress=0,
                )
            )
            if result.rowcount != 1:
                return None
            return conn.execute(select(jobs).where(jobs.c.id == job_id)).one()

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
            conn.execute(
                update(jobs)
                .where(self._owned(job_id, owner), jobs.c.progress < progress)
                .values(progress=progress)
            )

    def complete(self, job_id: str, owner: str, *, cost_mc: int, result: dict[str, Any]) -> bool:
        """Mark completed, capture ``cost_mc`` and meter usage, atomically; False if no longer ours."""
        with self.db.write() as conn:
            done = conn.execute(
                update(jobs)
                .where(self._owned(job_id, owner))
                .values(
                    status=COMPLETED,
                    progress=100,
                    completed_at=time.time(),
                    cost_mc=cost_mc,
                    result=result,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .returning(jobs.c.account_id, jobs.c.key_id, jobs.c.project_id, jobs.c.model, jobs.c.backend)
            ).one_or_none()
            if done is None:
                return False
            charged = billing.capture(conn, job_id, cost_mc)
            billing.record_usage(
                conn,
                job_id=job_id,
                account_id=done.account_id,
                api_key_id=done.key_id,
                project_id=done.project_id,
                model=done.model,
                backend=done.backend,
                video_seconds=result["frames"] / result["fps"],
                frames=result["frames"],
                width=result["width"],
                height=result["height"],
                device_seconds=result.get("run_seconds", 0.0),
                cost_mc=charged if charged is not None else cost_mc,
            )
        if charged is not None:
            self.on_settle("captured", done.model, charged)
        return True

    def set_qc(self, job_id: str, qc: dict[str, Any]) -> None:
        """Attach quality-check results to a completed job (they are computed after it completes)."""
        with self.db.write() as conn:
            row = conn.execute(select(jobs.c.result).where(jobs.c.id == job_id)).one_or_none()
            if row is not None and row.result is not None:
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(result={**row.result, "qc": qc}))

    def fail(self, job_id: str, owner: str | None, code: str, message: str) -> bool:
        """Mark failed and release the hold; ``owner=None`` fails a job that is not running."""
        released: list[tuple[str, int]] = []
        with self.db.write() as conn:
            failed = self._fail(conn, job_id, owner, code, message, released)
        self._report_released(released)
        return failed

    def _report_released(self, released: list[tuple[str, int]]) -> None:
        for model, amount_mc in released:
            self.on_settle("released", model, amount_mc)

    def _fail(
        self,
        conn: Connection,
        job_id: str,
        owner: str | None,
        code: str,
        message: str,
        released: list[tuple[str, int]],
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
            .returning(jobs.c.model, jobs.c.quoted_mc)
        ).one_or_none()
        if done is None:
            return False
        if billing.void(conn, job_id):
            released.append((done.model, done.quoted_mc))
        return True

    def switch_candidate(self, job_id: str, owner: str, candidate: dict[str, Any]) -> bool:
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
                candidate["price_mc"],
                model=candidate["model"],
                limits=self._limits(conn, row.key_id, row.project_id),
            )
            conn.execute(
                update(jobs)
                .where(self._owned(job_id, owner))
                .values(
                    model=candidate["model"],
                    backend=candidate["backend"],
                    params=candidate["params"],
                    quoted_mc=candidate["price_mc"],
                    progress=0,
                )
            )
        return True

    def _limits(self, conn: Connection, key_id: str | None, project_id: str | None) -> billing.BudgetLimits:
        from ..db import api_keys, projects

        key = (
            conn.execute(
                select(api_keys.c.daily_budget_mc, api_keys.c.monthly_budget_mc).where(
                    api_keys.c.id == key_id
                )
            ).one_or_none()
            if key_id
            else None
        )
        project = (
            conn.execute(select(projects.c.budget_mc).where(projects.c.id == project_id)).scalar_one_or_none()
            if project_id
            else None
        )
        return billing.BudgetLimits(
            key_daily_mc=key.daily_budget_mc if key else None,
            key_monthly_mc=key.monthly_budget_mc if key else None,
            project_mc=project,
        )

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
            return conn.execute(update(jobs).where(self._owned(job_id, owner)).values(**values)).rowcount == 1

    def recover_expired(self, max_attempts: int) -> Recovery:
        """Re-queue running jobs whose lease expired (their worker died); fail those out of attempts."""
        now = time.time()
        requeued: list[str] = []
        failed: list[str] = []
        released: list[tuple[str, int]] = []
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
                    if self._fail(conn, row.id, row.lease_owner, code, message, released):
                        failed.append(row.id)
                elif (
                    conn.execute(
                        update(jobs)
                        .where(self._owned(row.id, row.lease_owner))
                        .values(status=QUEUED, lease_owner=None, lease_expires_at=None, progress=0)
                    ).rowcount
                    == 1
                ):
                    requeued.append(row.id)
        self._report_released(released)
        return Recovery(requeued, failed)

    def void_orphaned_reserves(self) -> list[str]:
        """Void pending reserves whose job has already ended or vanished (a hold that outlived its job)."""
        from billing.schema import transfers

        released: list[tuple[str, int]] = []
        voided: list[str] = []
        with self.db.write() as conn:
            rows = conn.execute(
                select(transfers.c.job_id, transfers.c.model, transfers.c.amount_mc)
                .select_from(transfers.outerjoin(jobs, jobs.c.id == transfers.c.job_id))
                .where(
                    transfers.c.kind == "reserve",
                    transfers.c.state == "pending",
                    (jobs.c.id.is_(None)) | (jobs.c.status.in_((COMPLETED, FAILED))),
                )
            ).all()
            for row in rows:
                if billing.void(conn, row.job_id):
                    voided.append(row.job_id)
                    released.append((row.model or "?", row.amount_mc))
        self._report_released(released)
        return voided

    # -- caller side -------------------------------------------------------------------------
    def request_cancel(self, account_id: str, job_id: str, *, delete: bool = False) -> Row[Any] | None:
        """Cancel (and optionally delete) a job. Queued jobs fail at once; running ones are flagged.

        Returns the row after the change, or None if there is no such job.
        """
        now = time.time()
        released: list[tuple[str, int]] = []
        with self.db.write() as conn:
            row = conn.execute(
                select(jobs).where(
                    jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.deleted_at.is_(None)
                )
            ).one_or_none()
            if row is None:
                return None
            if row.status == QUEUED:
                self._fail(conn, job_id, None, "cancelled", "the job was cancelled", released)
            elif row.status == IN_PROGRESS:
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(cancel_requested=True))
            if delete:
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(deleted_at=now))
            after = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        self._report_released(released)
        return after
