"""Usage metering: one record per finished job, and grouped reports."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from .schema import usage_records

__all__ = ["GROUPS", "UsageRecord", "record_usage", "usage_report"]

GROUPS = ("day", "model", "key")


@dataclass(frozen=True)
class UsageRecord:
    """What a finished job used, as metered by ``settle``; its cost is billing's to decide."""

    account_id: str
    api_key_id: str | None
    project_id: str | None
    model: str
    backend: str
    video_seconds: float
    frames: int
    width: int
    height: int
    device_seconds: float


def record_usage(
    conn: Connection,
    *,
    job_id: str,
    account_id: str,
    api_key_id: str | None,
    project_id: str | None,
    model: str,
    backend: str,
    video_seconds: float,
    frames: int,
    width: int,
    height: int,
    device_seconds: float,
    cost_mc: int,
) -> None:
    conn.execute(
        insert(usage_records).values(
            job_id=job_id,
            account_id=account_id,
            api_key_id=api_key_id,
            project_id=project_id,
            model=model,
            backend=backend,
            video_seconds=video_seconds,
            frames=frames,
            width=width,
            height=height,
            device_seconds=device_seconds,
            cost_mc=cost_mc,
            created_at=time.time(),
        )
    )


def usage_report(
    conn: Connection,
    account_id: str,
    *,
    group_by: str,
    since: float | None = None,
    until: float | None = None,
) -> list[dict[str, Any]]:
    """Totals per day (UTC), model or key: jobs, seconds of video, frames, device seconds, cost."""
    u = usage_records.c
    query = select(
        u.created_at, u.model, u.api_key_id, u.video_seconds, u.frames, u.device_seconds, u.cost_mc
    ).where(u.account_id == account_id)
    if since is not None:
        query = query.where(u.created_at >= since)
    if until is not None:
        query = query.where(u.created_at < until)
    groups: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query.order_by(u.created_at)):
        if group_by == "day":
            group = dt.datetime.fromtimestamp(row.created_at, dt.UTC).strftime("%Y-%m-%d")
        elif group_by == "model":
            group = row.model
        else:
            group = row.api_key_id or "-"
        g = groups.setdefault(
            group,
            {
                group_by: group,
                "jobs": 0,
                "video_seconds": 0.0,
                "frames": 0,
                "device_seconds": 0.0,
                "cost_mc": 0,
            },
        )
        g["jobs"] += 1
        g["video_seconds"] += row.video_seconds
        g["frames"] += row.frames
        g["device_seconds"] += row.device_seconds
        g["cost_mc"] += row.cost_mc
    return list(groups.values())
