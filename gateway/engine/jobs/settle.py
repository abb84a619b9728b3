"""A completed job's settlement: billing charges it and meters its usage, in the completing transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, update

import billing
from gateway.engine.db import jobs

__all__ = ["settle_completed"]


def settle_completed(conn: Connection, done: Row[Any], result: dict[str, Any]) -> tuple[int, Row[Any]]:
    """Billing charges the completed job and meters it; (what it charged, the row after)."""
    job_id = done.id
    charged = billing.settle(
        conn,
        job_id,
        quoted_mc=done.quoted_mc,
        asked_seconds=done.params["frames"] / done.params["fps"],
        usage=billing.UsageRecord(
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
        ),
    )
    after = conn.execute(
        update(jobs).where(jobs.c.id == job_id).values(cost_mc=charged).returning(*jobs.c)
    ).one()
    return charged, after
