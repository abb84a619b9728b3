"""Live job progress for the dashboard (server-sent events) and media for its video players."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, StreamingResponse

from gateway.api.live import changed
from gateway.creative.projects import latest_cut
from gateway.dashboard.common import require_session, state_of
from gateway.dashboard.session import COOKIE, find_session
from gateway.engine.artifacts import VARIANTS
from gateway.engine.ids import is_video_id
from gateway.errors import NotFound

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
MAX_WATCHED = 200  # more than a page shows (the jobs page: 50 rows)


@router.get("/events")
async def events(request: Request) -> StreamingResponse:
    """``job`` events (id, status, progress, cost) for the account's jobs that are queued or running,
    and one final event as each finishes. ``?watch=id,id``: the page's unfinished jobs, followed
    whatever their state, so that one which ended between the page and the stream still gets its
    final event (only the account's own jobs are ever sent)."""
    session = require_session(request)
    state = state_of(request)
    account = session.principal.account_id
    asked = request.query_params.get("watch", "").split(",")[:MAX_WATCHED]
    initial = {job_id for job_id in asked if is_video_id(job_id)}

    def snapshot(watch: set[str]) -> list[dict[str, object]]:
        rows = state.jobs.unfinished(account, also=watch)
        return [
            {
                "id": r.id,
                "status": r.status,
                "progress": r.progress,
                "model": r.model,
                "cost": None if r.cost_mc is None else r.cost_mc / 1000,
            }
            for r in rows
        ]

    token = request.cookies.get(COOKIE)

    async def stream() -> AsyncIterator[bytes]:
        with state.watch.watching(account) as flag:  # the same push as the API's video events
            async for chunk in _changes(flag):
                yield chunk

    async def _changes(flag: asyncio.Event) -> AsyncIterator[bytes]:
        last: dict[str, tuple[object, ...]] = {}
        watch: set[str] = set(initial)
        yield b": connected\n\n"
        deadline = time.monotonic() + 1800  # at most 30 minutes; the browser reconnects by itself
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                break
            # Signed out (or the key revoked) since the stream opened: stop at once.
            if await state.db.run_read(find_session, state.db, token) is None:
                break
            for item in await state.db.run_read(snapshot, watch):
                key = (item["status"], item["progress"], item["cost"])
                if last.get(str(item["id"])) != key:
                    last[str(item["id"])] = key
                    yield f"event: job\ndata: {json.dumps(item)}\n\n".encode()
                if item["status"] in ("queued", "in_progress"):
                    watch.add(str(item["id"]))
                else:
                    watch.discard(str(item["id"]))
            await changed(flag, 0.5)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


@router.get("/media/{video_id}")
async def media(video_id: str, request: Request, variant: str = "video") -> FileResponse:
    session = require_session(request)
    state = state_of(request)
    if not is_video_id(video_id) or variant not in VARIANTS:
        raise NotFound("no such video", code="video_not_found")
    row = await state.db.run_read(state.jobs.get, session.principal.account_id, video_id)
    path = None if row is None else await to_thread.run_sync(state.artifacts.local_path, video_id, variant)
    if path is None:
        raise NotFound("no such video", code="video_not_found")
    return FileResponse(path, media_type=VARIANTS[variant][1])


@router.get("/media/cut/{project_id}")
async def cut_media(project_id: str, request: Request) -> FileResponse:
    session = require_session(request)
    state = state_of(request)

    def latest() -> str | None:
        with state.db.read() as conn:
            cut = latest_cut(conn, session.principal.account_id, project_id)
        return None if cut is None else str(cut.id)

    cut_id = await state.db.run_read(latest)
    path = None if cut_id is None else await to_thread.run_sync(state.artifacts.cut_file, cut_id)
    if path is None:
        raise NotFound("no cut yet", code="cut_not_found")
    return FileResponse(path, media_type="video/mp4")
