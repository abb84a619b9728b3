"""Shots and takes: the same shot rendered on several models, compared, a winner picked, re-rendered
with lineage, and the winners assembled into the cut."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from gateway.creative.projects import get_project_row
from gateway.engine.db import cuts, jobs, shots, takes
from gateway.engine.errors import Conflict, NotFound

__all__ = [
    "ShotFields",
    "create_shot",
    "delete_shot",
    "get_shot_row",
    "record_cut",
    "record_takes",
    "set_winner",
    "shot_object",
    "shots_of",
    "take_object",
    "takes_of",
    "update_shot",
    "winners_of",
]


@dataclass(frozen=True)
class ShotFields:
    prompt: str
    size: str | None = None
    seconds: float | None = None
    notes: str | None = None
    image_path: str | None = None


def get_shot_row(conn: Connection, account_id: str, shot_id: str) -> Row[Any]:
    row = conn.execute(
        select(shots).where(
            shots.c.id == shot_id, shots.c.account_id == account_id, shots.c.deleted_at.is_(None)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no shot with id {shot_id!r}", code="shot_not_found", param="shot_id")
    return row


def shots_of(conn: Connection, account_id: str, project_id: str) -> list[Row[Any]]:
    """The project's live shots in order; ``project_not_found`` if it is not ``account_id``'s."""
    get_project_row(conn, account_id, project_id)
    return list(
        conn.execute(
            select(shots)
            .where(shots.c.project_id == project_id, shots.c.deleted_at.is_(None))
            .order_by(shots.c.position, shots.c.created_at)
        ).all()
    )


def update_shot(conn: Connection, account_id: str, shot_id: str, changes: dict[str, Any]) -> Row[Any]:
    """Change some of a shot's fields (already validated); the shot after."""
    get_shot_row(conn, account_id, shot_id)
    if changes:
        conn.execute(update(shots).where(shots.c.id == shot_id).values(**changes))
    return get_shot_row(conn, account_id, shot_id)


def delete_shot(conn: Connection, account_id: str, shot_id: str) -> None:
    """Delete ``account_id``'s shot (its takes' videos stay)."""
    get_shot_row(conn, account_id, shot_id)
    conn.execute(update(shots).where(shots.c.id == shot_id).values(deleted_at=time.time()))


def create_shot(
    conn: Connection, account_id: str, project_id: str, fields: ShotFields, position: int | None = None
) -> Row[Any]:
    get_project_row(conn, account_id, project_id)
    if position is None:
        last = conn.execute(
            select(func.max(shots.c.position)).where(
                shots.c.project_id == project_id, shots.c.deleted_at.is_(None)
            )
        ).scalar_one()
        position = 1 if last is None else int(last) + 1
    return conn.execute(
        insert(shots)
        .returning(*shots.c)
        .values(
            id="shot_" + secrets.token_hex(10),
            project_id=project_id,
            account_id=account_id,
            position=position,
            prompt=fields.prompt,
            image_path=fields.image_path,
            size=fields.size,
            seconds=fields.seconds,
            notes=fields.notes,
            created_at=time.time(),
        )
    ).one()


def record_takes(
    conn: Connection, shot_id: str, videos: list[dict[str, Any]], *, prompt: str, parent: Row[Any] | None
) -> list[str]:
    """One take per created video, with its lineage: which take it came from and what changed."""
    change = None
    if parent is not None:
        change = f"prompt: {parent.prompt!r} -> {prompt!r}" if parent.prompt != prompt else "re-rendered"
    ids = []
    for video in videos:
        take_id = "take_" + secrets.token_hex(10)
        conn.execute(
            insert(takes).values(
                id=take_id,
                shot_id=shot_id,
                job_id=video["id"],
                prompt=prompt,
                parent_take_id=parent.id if parent is not None else None,
                change=change,
                is_winner=False,
                created_at=time.time(),
            )
        )
        ids.append(take_id)
    return ids


def _jobs_by_id(conn: Connection, job_ids: list[str]) -> dict[str, Row[Any]]:
    if not job_ids:
        return {}
    return {r.id: r for r in conn.execute(select(jobs).where(jobs.c.id.in_(job_ids)))}


def takes_of(conn: Connection, shot_id: str) -> list[tuple[Row[Any], Row[Any]]]:
    """The shot's takes, oldest first, each with its job row (deleted videos left out)."""
    rows = conn.execute(
        select(takes).where(takes.c.shot_id == shot_id).order_by(takes.c.created_at, takes.c.id)
    ).all()
    by_id = _jobs_by_id(conn, [r.job_id for r in rows])
    return [(t, by_id[t.job_id]) for t in rows if t.job_id in by_id and by_id[t.job_id].deleted_at is None]


def take_object(row: Any, video: dict[str, Any]) -> dict[str, Any]:
    """A take and its video (``video`` is the job's public object)."""
    qc = video.get("qc") or {}
    return {
        "id": row.id,
        "object": "take",
        "shot_id": row.shot_id,
        "video": video,
        "model": video["model"],
        "backend": video["backend"],  # where it ran: a local pool or a hosted provider
        "status": video["status"],
        "seed": video["seed"],
        "cost": video["cost"],
        "quoted_cost": video["quoted_cost"],
        "prompt": row.prompt,
        "parent_take_id": row.parent_take_id,
        "change": row.change,
        "winner": bool(row.is_winner),
        "qc_flags": [f["code"] for f in qc.get("flags", [])],
        "qc_scores": qc.get("scores"),
        "created_at": int(row.created_at),
    }


def shot_object(row: Any, take_objects: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = {
        "id": row.id,
        "object": "shot",
        "project_id": row.project_id,
        "position": row.position,
        "prompt": row.prompt,
        "size": row.size,
        "seconds": row.seconds,
        "notes": row.notes,
        "has_image": row.image_path is not None,
        "created_at": int(row.created_at),
    }
    if take_objects is not None:
        out["takes"] = take_objects
        out["winner_take_id"] = next((t["id"] for t in take_objects if t["winner"]), None)
        out["cost"] = round(sum(t["cost"] or 0 for t in take_objects), 3)
    return out


def set_winner(conn: Connection, account_id: str, take_id: str) -> Row[Any]:
    row = conn.execute(select(takes).where(takes.c.id == take_id)).one_or_none()
    if row is None:
        raise NotFound(f"no take with id {take_id!r}", code="take_not_found", param="take_id")
    try:
        get_shot_row(conn, account_id, row.shot_id)
    except NotFound:  # another account's take: the same 404 as no take, naming nothing of theirs
        raise NotFound(f"no take with id {take_id!r}", code="take_not_found", param="take_id") from None
    status = conn.execute(select(jobs.c.status).where(jobs.c.id == row.job_id)).scalar_one()
    if status != "completed":
        raise Conflict(
            f"take {take_id} is {status}; only a completed take can win",
            code="take_not_ready",
            param="take_id",
        )
    conn.execute(update(takes).where(takes.c.shot_id == row.shot_id).values(is_winner=False))
    conn.execute(update(takes).where(takes.c.id == take_id).values(is_winner=True))
    return row


def winners_of(
    conn: Connection, account_id: str, project_id: str
) -> list[tuple[Row[Any], tuple[Row[Any], Row[Any]] | None]]:
    """Each shot in order with its winning (take, job), or None."""
    get_project_row(conn, account_id, project_id)
    ordered = conn.execute(
        select(shots)
        .where(shots.c.project_id == project_id, shots.c.deleted_at.is_(None))
        .order_by(shots.c.position, shots.c.created_at)
    ).all()
    out: list[tuple[Row[Any], tuple[Row[Any], Row[Any]] | None]] = []
    for shot in ordered:
        take = conn.execute(
            select(takes).where(takes.c.shot_id == shot.id, takes.c.is_winner.is_(True))
        ).one_or_none()
        job = conn.execute(select(jobs).where(jobs.c.id == take.job_id)).one() if take is not None else None
        out.append((shot, (take, job) if take is not None and job is not None else None))
    return out


def new_cut_id() -> str:
    return "cut_" + secrets.token_hex(10)


def record_cut(
    conn: Connection,
    cut_id: str,
    project_id: str,
    take_ids: list[str],
    size: str,
    fps: int,
    seconds: float,
    qc: dict[str, Any] | None = None,
) -> str:
    """Record a cut whose file is already written (a row never points at a file that is not there),
    with its continuity checks (``qc``)."""
    conn.execute(
        insert(cuts).values(
            id=cut_id,
            project_id=project_id,
            take_ids=take_ids,
            size=size,
            fps=fps,
            seconds=seconds,
            created_at=time.time(),
            qc=qc,
        )
    )
    return cut_id
