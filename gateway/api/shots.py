"""Shots, takes and the cut: ``/v1/projects/{id}/shots``, ``/v1/shots/{id}/takes``, ``/v1/takes/{id}/winner``,
``/v1/projects/{id}/cut``. The dashboard uses exactly these."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from gateway.api.contract import BINARY, IDEMPOTENCY_KEY, REPLAYED, documented, replayable
from gateway.api.deps import app_state, principal
from gateway.api.edge import read_json_object
from gateway.api.images import decode_data_url, validate_image
from gateway.api.objects import Cut, Deleted, Shot, ShotList, TakeList
from gateway.api.schemas import decimal_text, parse_model, stripped, video_object
from gateway.creative import shots as shot_rows
from gateway.creative import studio
from gateway.creative.projects import get_project_row, latest_cut
from gateway.creative.shots import (
    ShotFields,
    create_shot,
    get_shot_row,
    set_winner,
    shot_object,
    shots_of,
    take_object,
    takes_of,
)
from gateway.engine import idempotency
from gateway.engine.idempotency import IdempotentRequest
from gateway.engine.keys import Principal
from gateway.errors import NotFound
from gateway.state import AppState
from local_models import InvalidInput, parse_size

__all__ = ["CutCreate", "ShotCreate", "TakesCreate", "router"]

router = APIRouter(prefix="/v1", tags=["shots"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


MAX_POSITION = 10_000


class ShotCreate(BaseModel):
    """``POST /v1/projects/{id}/shots`` (also the dashboard's shot form)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1, max_length=4000)
    size: str | None = Field(default=None, max_length=16)
    seconds: float | None = Field(default=None, gt=0, le=3600, allow_inf_nan=False)
    notes: str | None = Field(default=None, max_length=20_000)
    position: int | None = Field(default=None, ge=1, le=MAX_POSITION)
    image_url: str | None = None

    @field_validator("size", "notes", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    _prompt = field_validator("prompt", mode="before")(stripped)
    _seconds_text = field_validator("seconds", mode="before")(decimal_text)

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        return None if value is None else _checked_size(value)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ShotUpdate(BaseModel):
    """``PATCH /v1/shots/{id}``: only the fields sent change; ``size``, ``seconds``, ``notes`` may be null."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Optional (only the fields sent change), but never empty: the schema shows no default, as an
    # empty default would contradict its own minLength (OpenAPI validators refuse that document).
    prompt: str = Field(default="", min_length=1, max_length=4000, json_schema_extra=_no_default)
    size: str | None = Field(default=None, max_length=16)
    seconds: float | None = Field(default=None, gt=0, le=3600, allow_inf_nan=False)
    notes: str | None = Field(default=None, max_length=20_000)
    position: int = Field(default=1, ge=1, le=MAX_POSITION)

    _prompt = field_validator("prompt", mode="before")(stripped)

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        return None if value is None else _checked_size(value)


def _checked_size(value: str) -> str:
    try:
        width, height = parse_size(value)
    except InvalidInput as exc:
        raise PydanticCustomError("invalid_size", exc.message) from None
    return f"{width}x{height}"


class TakesCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    models: list[str] = Field(min_length=1, max_length=8)

    @field_validator("models")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_model", "lists a model twice")
        return value

    prompt: str | None = Field(default=None, min_length=1, max_length=4000)
    from_take: str | None = None
    seed: int | None = None
    steps: int | None = None


MAX_CUT_SIDE, MAX_CUT_PIXELS = 3840, 3840 * 2160  # 4K UHD, either orientation


class CutCreate(BaseModel):
    """``POST /v1/projects/{id}/cut``: the cut's size (default: the largest take's) and fps."""

    model_config = ConfigDict(extra="forbid", strict=True)

    size: str | None = Field(default=None, max_length=16)
    fps: int | None = Field(default=None, ge=1, le=60)

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is None:
            return None
        width, height = parse_size(_checked_size(value))
        if max(width, height) > MAX_CUT_SIDE or width * height > MAX_CUT_PIXELS:
            raise PydanticCustomError(
                "unsupported_size",
                f"a cut is at most {MAX_CUT_SIDE} pixels a side and {MAX_CUT_PIXELS} pixels in all (4K UHD)",
            )
        return value


def _shot_with_takes(state: AppState, conn: Any, shot: Any, sort: str | None = None) -> dict[str, Any]:
    objs = [take_object(t, video_object(job)) for t, job in takes_of(conn, shot.id)]
    if sort == "qc":  # the A/B view: clean takes first, then the cheaper
        objs.sort(key=lambda t: (t["status"] != "completed", len(t["qc_flags"]), t["cost"] or 0))
    return shot_object(shot, objs)


@router.post(
    "/projects/{project_id}/shots", **documented(returns=Shot, json_body=ShotCreate, errors=(404, 413))
)
async def add_shot(project_id: str, request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    req = parse_model(ShotCreate, await read_json_object(request))
    image = None
    if req.image_url:
        image = await to_thread.run_sync(
            lambda: validate_image(
                decode_data_url(req.image_url or "", "image_url"),
                max_pixels=state.settings.max_image_pixels,
                param="image_url",
            )
        )

    def create() -> dict[str, Any]:
        path = None
        try:
            with state.db.write() as conn:
                get_project_row(conn, who.account_id, project_id)
                if image is not None:
                    path = state.artifacts.save_input(f"shotimg_{time.time_ns()}", image.png, ".png")
                row = create_shot(
                    conn,
                    who.account_id,
                    project_id,
                    ShotFields(
                        req.prompt.strip(), req.size, req.seconds, req.notes, str(path) if path else None
                    ),
                    req.position,
                )
                return shot_object(row, [])
        except BaseException:
            if path is not None:  # the shot was not created: nothing may point at its image
                path.unlink(missing_ok=True)
            raise

    return await to_thread.run_sync(create)


@router.get("/projects/{project_id}/shots", **documented(returns=ShotList, errors=(404,)))
async def list_shots(
    project_id: str, state: StateDep, who: PrincipalDep, sort: Literal["qc"] | None = None
) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.db.read() as conn:
            rows = shots_of(conn, who.account_id, project_id)
            return {"object": "list", "data": [_shot_with_takes(state, conn, s, sort) for s in rows]}

    return await state.db.run_read(read)


@router.get("/shots/{shot_id}", **documented(returns=Shot, errors=(404,)))
async def get_shot(
    shot_id: str, state: StateDep, who: PrincipalDep, sort: Literal["qc"] | None = None
) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.db.read() as conn:
            return _shot_with_takes(state, conn, get_shot_row(conn, who.account_id, shot_id), sort)

    return await state.db.run_read(read)


@router.patch("/shots/{shot_id}", **documented(returns=Shot, json_body=ShotUpdate, errors=(404, 413)))
async def update_shot(shot_id: str, request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    req = parse_model(ShotUpdate, await read_json_object(request))
    changes = req.model_dump(exclude_unset=True)

    def write() -> dict[str, Any]:
        with state.db.write() as conn:
            return _shot_with_takes(
                state, conn, shot_rows.update_shot(conn, who.account_id, shot_id, changes)
            )

    return await to_thread.run_sync(write)


@router.delete("/shots/{shot_id}", **documented(returns=Deleted, errors=(404,)))
async def delete_shot(shot_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    def write() -> None:
        with state.db.write() as conn:
            shot_rows.delete_shot(conn, who.account_id, shot_id)

    await to_thread.run_sync(write)
    return {"id": shot_id, "object": "shot.deleted", "deleted": True}


def render_shot_takes(
    state: AppState, who: Principal, shot_id: str, req: TakesCreate, idem: IdempotentRequest | None = None
) -> JSONResponse:
    """Render a shot on each of ``req.models`` (``gateway.creative.studio``), as the API shows takes."""
    wanted = studio.TakeRequest(tuple(req.models), req.prompt, req.from_take, req.seed, req.steps)
    rows, replayed = studio.render_takes(state.service, state.artifacts, who, shot_id, wanted, idem)
    body = {"object": "list", "data": [take_object(t, video_object(job)) for t, job in rows]}
    return replayable(body, replayed)


@router.post(
    "/shots/{shot_id}/takes",
    **documented(
        returns=TakeList,
        json_body=TakesCreate,
        errors=(402, 404, 409, 413, 503),
        request_headers=IDEMPOTENCY_KEY,
        headers=REPLAYED,
    ),
)
async def render_takes(shot_id: str, request: Request, state: StateDep, who: PrincipalDep) -> JSONResponse:
    """Render the shot on each of ``models`` at once (credits held for all). With ``from_take`` (and usually
    a changed ``prompt``) the new takes record where they came from and what changed."""
    req = parse_model(TakesCreate, await read_json_object(request))
    idem = idempotency.from_request(
        request.headers, who.account_id, "shots.takes", {"shot": shot_id, **req.model_dump()}
    )
    return await to_thread.run_sync(render_shot_takes, state, who, shot_id, req, idem)


@router.post("/takes/{take_id}/winner", **documented(returns=Shot, errors=(404, 409)))
async def pick_winner(take_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    def write() -> dict[str, Any]:
        with state.db.write() as conn:
            row = set_winner(conn, who.account_id, take_id)
            return _shot_with_takes(state, conn, get_shot_row(conn, who.account_id, row.shot_id))

    return await to_thread.run_sync(write)


def build_cut(state: AppState, who: Principal, project_id: str, req: CutCreate) -> dict[str, Any]:
    """Assemble the project's cut (``gateway.creative.studio``), as the API shows it."""
    size = parse_size(req.size) if req.size else None
    cut = studio.assemble_cut(state.db, state.artifacts, who.account_id, project_id, size=size, fps=req.fps)
    return {
        "id": cut.id,
        "object": "cut",
        "project_id": cut.project_id,
        "takes": cut.takes,
        "size": cut.size,
        "fps": cut.fps,
        "seconds": cut.seconds,
        "url": f"/v1/projects/{project_id}/cut/content",
        "qc": cut.qc,
    }


@router.post(
    "/projects/{project_id}/cut",
    **documented(returns=Cut, json_body=CutCreate, body_required=False, errors=(404, 409, 413)),
)
async def assemble_cut(
    project_id: str, request: Request, state: StateDep, who: PrincipalDep
) -> dict[str, Any]:
    """Join the winning take of every shot, in order, into one MP4 at a common size and fps."""
    req = parse_model(CutCreate, await read_json_object(request, empty_ok=True))
    return await to_thread.run_sync(build_cut, state, who, project_id, req)


@router.get(
    "/projects/{project_id}/cut/content",
    response_class=Response,
    **documented(media={"video/mp4": BINARY}, errors=(404,)),
)
async def cut_content(project_id: str, state: StateDep, who: PrincipalDep) -> FileResponse:
    def latest() -> str:
        with state.db.read() as conn:
            cut = latest_cut(conn, who.account_id, project_id)
        if cut is None:
            raise NotFound(
                "no cut has been assembled for this project", code="cut_not_found", param="project_id"
            )
        return str(cut.id)

    cut_id = await to_thread.run_sync(latest)
    path = await to_thread.run_sync(state.artifacts.cut_file, cut_id)
    if path is None:
        raise NotFound("the assembled cut's file is gone", code="cut_not_found", param="project_id")
    return FileResponse(path, media_type="video/mp4", filename=f"{project_id}-cut.mp4")
