"""Settling a finished job: what is charged for it is decided here, and nowhere else."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from billing.job_transfers import capture, refund, reserve_of
from billing.usage import UsageRecord, record_usage

__all__ = ["Refund", "Settlement", "settle"]


@dataclass(frozen=True)
class Refund:
    """Why a finished job's charge is given back (``reason``, a code), and what the ledger keeps with it."""

    reason: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Settlement:
    """What a finished job cost: ``charged_mc`` net of ``refunded_mc``."""

    charged_mc: int
    refunded_mc: int = 0


def settle(
    conn: Connection,
    job_id: str,
    *,
    quoted_mc: int,
    usage: UsageRecord,
    asked_seconds: float | None = None,
    refund_as: Refund | None = None,
) -> Settlement:
    """Charge a finished job and meter its usage, in the caller's transaction.

    The charge is the quoted price, never more than the job's reserve (the rest is released). A clip
    shorter than the ``asked_seconds`` it was quoted for (a provider that delivered less) is charged
    pro rata, for the seconds it has. If the reserve was already settled nothing more is charged (0),
    and the usage is metered at that. With ``refund_as`` the charge is captured and then refunded in
    full (both on the account's statement, the refund with its reason): the job is delivered free.
    """
    if asked_seconds and 0 <= usage.video_seconds < asked_seconds - 1e-6:
        quoted_mc = math.ceil(quoted_mc * usage.video_seconds / asked_seconds)
    held = reserve_of(conn, job_id)
    charged = refunded = 0
    if held is not None and held.state == "pending":
        charged = capture(conn, job_id, max(0, min(quoted_mc, held.amount_mc))) or 0
        if refund_as is not None:
            refunded = refund(conn, job_id, reason=refund_as.reason, detail=refund_as.detail)
    record_usage(
        conn,
        job_id=job_id,
        account_id=usage.account_id,
        api_key_id=usage.api_key_id,
        project_id=usage.project_id,
        model=usage.model,
        backend=usage.backend,
        video_seconds=usage.video_seconds,
        frames=usage.frames,
        width=usage.width,
        height=usage.height,
        device_seconds=usage.device_seconds,
        cost_mc=charged - refunded,
    )
    return Settlement(charged - refunded, refunded)
