"""A completed job's settlement: billing charges it and meters its usage, in the completing transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, update

import billing
from gateway.engine.db import jobs
from gateway.engine.jobs.qc_gate import billing_block, refund_for

__all__ = ["settle_completed"]


def settle_completed(
    conn: Connection,
    done: Row[Any],
    result: dict[str, Any],
    defects: list[dict[str, str]] | None = None,
) -> tuple[int, Row[Any]]:
    """Billing charges the completed job and meters it; (what it charged, net, the row after).

    ``defects``: the hard defects its final take still has, when the account's QC-gated settlement
    is on: the charge is then refunded (:mod:`gateway.engine.jobs.qc_gate`). The job's ``billing``
    block, in its result, says what was charged, refunded and why.
    """
    job_id = done.id
    settled = billing.settle(
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
        refund_as=refund_for(defects, done.rerender) if defects else None,
    )
    block = billing_block(settled, defects or [], done.rerender)
    after = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(cost_mc=settled.charged_mc, result={**result, "billing": block})
        .returning(*jobs.c)
    ).one()
    return settled.charged_mc, after
