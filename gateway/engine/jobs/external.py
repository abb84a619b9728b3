"""The job row as an adapter's journal: where a hosted provider's job handle is kept durably."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, update

from gateway.engine.db import Database, jobs
from gateway.engine.jobs.states import IN_PROGRESS

__all__ = ["RowJournal"]


class RowJournal:
    """A :class:`adapters.JobJournal` on ``jobs.external``. Only the lease holder writes; the handle
    is also kept in memory, so retries within this claim resume even if a write is lost."""

    def __init__(self, db: Database, job_id: str, owner: str, handle: dict[str, Any] | None) -> None:
        self.db, self.job_id, self.owner = db, job_id, owner
        self._handle = handle

    def load(self) -> dict[str, Any] | None:
        return self._handle

    def save(self, handle: dict[str, Any] | None) -> None:
        self._handle = handle
        owned = and_(jobs.c.id == self.job_id, jobs.c.status == IN_PROGRESS, jobs.c.lease_owner == self.owner)
        with self.db.write() as conn:
            conn.execute(update(jobs).where(owned).values(external=handle))
