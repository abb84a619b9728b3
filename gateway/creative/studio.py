"""The creator's workflow over the engine: render a shot's takes on several models, join the winners into
the cut. The API and the dashboard both go through here; the web layer only parses and renders."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, select

from gateway.creative.projects import get_project_row
from gateway.creative.shots import (
    get_shot_row,
    new_cut_id,
    record_cut,
    record_takes,
    takes_of,
    winners_of,
)
from gateway.engine.artifacts import ArtifactStore
from gateway.engine.db import Database, takes
from gateway.engine.errors import Conflict, NotFound
from gateway.engine.idempotency import IdempotentRequest
from gateway.engine.jobs.service import JobService
from gateway.engine.jobs.submission import InputImage, JobRequest
from gateway.engine.keys import Principal
from gateway.engine.webhooks.outbox import publish
from local_models.decode import read_boundary_frames
from local_models.qc_continuity import cut_qc
from local_models.spec import VideoRequest, parse_size
from local_models.video import VideoRejected, concat_videos, probe

__all__ = ["CUT_QC_MAX_PIXELS", "Cut", "TakeRequest", "assemble_cut", "cut_continuity", "render_takes"]

log = logging.getLogger("framegate.studio")

CUT_QC_MAX_PIXELS = 4096 * 2160  # the continuity check decodes boundary frames of clips up to DCI 4K


@dataclass(frozen=True)
class TakeRequest:
    """Render the shot on each of ``models``; ``from_take`` records where a retake came from."""

    models: tuple[str, ...]
    prompt: str | None = None
    from_take: str | None = None
    seed: int | None = None
    steps: int | None = None


def render_takes(
    service: JobService,
    artifacts: ArtifactStore,
    who: Principal,
    shot_id: str,
    req: TakeRequest,
    idem: IdempotentRequest | None = None,
) -> tuple[list[tuple[Row[Any], Row[Any]]], bool]:
    """Queue one take per model (credits held for all at once, or for none); the (take, job) rows, and
    whether they are a replay.

    The shot's image, if it has one, conditions every take; the prompt is the request's, else the
    parent take's, else the shot's. With ``idem`` a retry of the same request returns the takes the
    first one queued (their current state) instead of queuing more.
    """
    db: Database = service.db
    with db.read() as conn:
        shot = get_shot_row(conn, who.account_id, shot_id)
        parent = _parent_take(conn, shot_id, req.from_take)
        project = get_project_row(conn, who.account_id, shot.project_id)
    prompt = (req.prompt or (parent.prompt if parent is not None else shot.prompt)).strip()
    image = None
    if shot.image_path:
        png = artifacts.input_file(shot.image_path).read_bytes()  # validated and re-encoded on upload
        image = InputImage(png, hashlib.sha256(png).hexdigest())
    request = JobRequest(
        prompt=prompt,
        video=VideoRequest(
            mode="i2v" if image is not None else "t2v",
            size=parse_size(shot.size) if shot.size else None,
            seconds=float(shot.seconds) if shot.seconds is not None else None,
            seed=req.seed,
            steps=req.steps,
        ),
        routing=None,  # the key's routing defaults apply to takes as to any create
        compare=req.models,
        project=project.id,
        image=image,
    )

    def on_created(conn: Connection, videos: list[dict[str, Any]]) -> None:
        record_takes(conn, shot_id, videos, prompt=prompt, parent=parent)

    submitted = service.submit(who, request, idem, on_created=on_created)
    body = submitted.body
    job_ids = {v["id"] for v in (body["data"] if body.get("object") == "list" else [body])}
    with db.read() as conn:
        return [(t, job) for t, job in takes_of(conn, shot_id) if t.job_id in job_ids], submitted.replayed


def _parent_take(conn: Connection, shot_id: str, take_id: str | None) -> Row[Any] | None:
    if take_id is None:
        return None
    parent = conn.execute(
        select(takes).where(takes.c.id == take_id, takes.c.shot_id == shot_id)
    ).one_or_none()
    if parent is None:
        raise NotFound(f"no take {take_id!r} in this shot", code="take_not_found", param="from_take")
    return parent


@dataclass(frozen=True)
class Cut:
    """An assembled cut: the winning takes joined in shot order."""

    id: str
    project_id: str
    takes: list[str]
    size: str
    fps: int
    seconds: float
    # Continuity across each cut (``local_models.qc_continuity.cut_qc``): flags naming both shots, and
    # each cut's scores; None when no boundary frame could be read.
    qc: dict[str, Any] | None = field(default=None)


def cut_continuity(winners: list[tuple[Row[Any], Row[Any], Path]]) -> dict[str, Any] | None:
    """Continuity between the winners, in order, as (shot, take, video path): only each clip's first
    and last frames are decoded. A clip that cannot be read is left out of the check (logged)."""
    shots: list[tuple[str, int, str | None, Any, Any]] = []
    for shot, take, path in winners:
        first: Any
        last: Any
        try:
            first, last = read_boundary_frames(path, max_pixels=CUT_QC_MAX_PIXELS)
        except VideoRejected as exc:
            log.warning("no continuity check at shot %s: %s", shot.id, exc.message)
            first = last = None
        shots.append((shot.id, int(shot.position), take.prompt or shot.prompt, first, last))
    if all(first is None for *_, first, _ in shots):
        return None
    try:
        return cut_qc(shots)
    except Exception:  # a quality note must never cost the creator the cut itself
        log.exception("the continuity check failed")
        return None


def assemble_cut(
    db: Database,
    artifacts: ArtifactStore,
    account_id: str,
    project_id: str,
    *,
    size: tuple[int, int] | None = None,
    fps: int | None = None,
) -> Cut:
    """Join the winning take of every shot, in order, into one MP4 at a common size (default: the
    largest take's) and fps (default: the fastest take's)."""
    with db.read() as conn:
        pairs = winners_of(conn, account_id, project_id)
    if not pairs:
        raise Conflict("the project has no shots", code="no_shots", param="project_id")
    missing = [f"shot {s.position} ({s.id})" for s, win in pairs if win is None]
    if missing:
        raise Conflict(
            "pick a winning take for every shot first: "
            + ", ".join(missing)
            + (" has none" if len(missing) == 1 else " have none"),
            code="shot_without_winner",
            param="project_id",
        )
    paths, take_ids, seconds, winners = [], [], 0.0, []
    for shot, win in pairs:
        assert win is not None
        take, job = win
        path = artifacts.local_path(job.id, "video")
        if job.status != "completed" or path is None:
            raise Conflict(f"the winning take of shot {shot.position} has no video", code="take_not_ready")
        paths.append(path)
        winners.append((shot, take, path))
        take_ids.append(take.id)
        seconds += job.params["frames"] / job.params["fps"]
    infos = [probe(p) for p in paths]
    width, height = size or (max(i.width for i in infos), max(i.height for i in infos))
    width, height = width + width % 2, height + height % 2
    fps = fps or round(max(i.fps for i in infos))
    # The file first, then the row: a failed join leaves the project's earlier cut in place.
    cut_id = new_cut_id()
    concat_videos(paths, artifacts.cut_path(cut_id), width=width, height=height, fps=fps)
    artifacts.publish_cut(cut_id)
    cut = Cut(
        cut_id, project_id, take_ids, f"{width}x{height}", fps, round(seconds, 3), cut_continuity(winners)
    )
    with db.write() as conn:
        record_cut(conn, cut_id, project_id, take_ids, cut.size, fps, cut.seconds, cut.qc)
        data = {"id": cut_id, "object": "cut", "project_id": project_id, "takes": take_ids}
        publish(
            conn,
            account_id,
            "project.cut.completed",
            {**data, "size": cut.size, "fps": fps, "seconds": cut.seconds, "qc": cut.qc},
            cut_id,
        )
    return cut
