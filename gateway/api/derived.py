"""Videos made from videos, as the SDK's ``videos`` methods call them: ``remix``
(``POST /v1/videos/{id}/remix``), ``extend`` (``/v1/videos/extensions``), ``edit``
(``/v1/videos/edits``), ``create_character`` / ``get_character`` (``/v1/videos/characters``).

``extend`` and ``edit`` take the source as JSON (``{"video": {"id": ...}}``: openai 3.57's client
cannot send that form itself, so pass it through ``extra_body`` or plain HTTP) or as an uploaded file
(multipart ``video``)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from gateway.api.contract import IDEMPOTENCY_KEY, REPLAYED, documented, replayable
from gateway.api.deps import app_state, principal
from gateway.api.edge import clean_form_value, read_json_object
from gateway.api.images import validate_image
from gateway.api.objects import Video
from gateway.api.references import checked_webhook_url
from gateway.api.schemas import decimal_text, parse_model
from gateway.api.videos import video_expired
from gateway.api.webhook_objects import Character
from gateway.creative.shots import record_takes
from gateway.engine import idempotency
from gateway.engine.characters import create_character, get_character
from gateway.engine.db import takes
from gateway.engine.ids import is_video_id
from gateway.engine.jobs.derived import SOURCE_SUFFIX, Which, check_upload, clip_seconds, extract_frame
from gateway.engine.jobs.states import COMPLETED
from gateway.engine.jobs.submission import InputImage, JobRequest
from gateway.engine.keys import Principal
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.state import AppState
from local_models.errors import FramegateError
from local_models.spec import GenerationParams, VideoRequest, parse_size

__all__ = ["router"]

router = APIRouter(prefix="/v1/videos", tags=["videos"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


class Derived(BaseModel):
    """The body of a remix, extension or edit (JSON, or the text fields of a form)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1)
    video: dict[str, Any] | None = None  # {"id": ...}; an upload arrives as a file part instead
    seconds: float | None = Field(default=None, gt=0, le=3600, allow_inf_nan=False, strict=False)
    size: str | None = None
    model: str | None = None
    seed: int | None = None
    webhook_url: str | None = None

    _seconds = field_validator("seconds", mode="before")(decimal_text)


class CharacterBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200)
    video: dict[str, Any] | None = None


@dataclass
class _Parsed:
    fields: dict[str, Any]
    upload: bytes | None


async def _read(request: Request, state: AppState) -> _Parsed:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        return _Parsed(await read_json_object(request), None)
    try:
        form = await request.form(max_files=1, max_fields=16, max_part_size=state.settings.max_body_bytes)
    except ClientDisconnect:  # nobody to answer: the error handlers make it a quiet 499
        raise
    except Exception:
        raise BadRequest("could not parse the form body", code="invalid_body") from None
    fields: dict[str, Any] = {}
    upload = None
    for key, value in form.multi_items():
        if key in fields or (key == "video" and upload is not None):
            raise BadRequest(f"{key} is sent twice", code="invalid_parameter", param=key)
        if isinstance(value, UploadFile):
            if key != "video":
                raise BadRequest(f"unexpected file part {key!r}", code="unknown_parameter", param=key)
            upload = await value.read()
        elif key in ("video[id]", "video"):
            fields["video"] = {"id": clean_form_value(key, value)}
        else:
            fields[key] = clean_form_value(key, value)
    await form.close()
    return _Parsed(fields, upload)


def _source_ref(parsed: _Parsed) -> str | None:
    video = parsed.fields.get("video")
    if video is None and parsed.upload is None:
        raise BadRequest("send the source video: {'video': {'id': ...}} or a 'video' file", param="video")
    if video is not None and parsed.upload is not None:
        raise BadRequest(
            "send the source video once: an id or a file", code="invalid_parameter", param="video"
        )
    if video is None:
        return None
    if not isinstance(video, dict) or set(video) != {"id"} or not isinstance(video["id"], str):
        raise BadRequest("video must be {'id': '<video id>'}", code="invalid_parameter", param="video")
    return str(video["id"])


async def _completed_source(state: AppState, who: Principal, video_id: str, param: str) -> Any:
    """The caller's completed video ``video_id`` and the path of its clip."""
    row = await state.db.run_read(state.jobs.get, who.account_id, video_id) if is_video_id(video_id) else None
    if row is None:
        raise NotFound(f"no video with id {video_id!r}", code="video_not_found", param=param)
    if row.expired_at is not None:
        raise video_expired(video_id, param)
    if row.status != COMPLETED:
        raise Conflict(
            f"video {video_id} is {row.status}; only a completed video can be used",
            code="video_not_ready",
            param=param,
        )
    path = await to_thread.run_sync(state.artifacts.local_path, video_id, "video")
    if path is None:
        raise NotFound(f"video {video_id} has no clip any more", code="content_not_found", param=param)
    return row, path


async def _frame(
    state: AppState, path: Path | None, data: bytes | None, which: Which
) -> tuple[InputImage, float | None]:
    """The source's ``which`` frame, validated as an image, and (for an upload) its duration."""

    def run() -> tuple[InputImage, float | None]:
        seconds = None
        if path is not None:
            png = extract_frame(path, which)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                upload = Path(tmp) / "upload.mp4"
                upload.write_bytes(data or b"")
                check_upload(
                    upload, max_frames=state.settings.qc_max_frames, max_pixels=state.settings.qc_max_pixels
                )
                png = extract_frame(upload, which)
                seconds = clip_seconds(upload)
        image = validate_image(png, max_pixels=state.settings.max_image_pixels, param="video")
        return InputImage(image.png, image.sha256), seconds

    return await to_thread.run_sync(run)


def _params(row: Any) -> GenerationParams:
    return GenerationParams.from_dict(row.params)


def _take_lineage(source_id: str, prompt: str) -> Any:
    """``on_created``: a remix of a take is a new take of the same shot, its parent that take."""

    def record(conn: Any, videos: list[dict[str, Any]]) -> None:
        parent = conn.execute(select(takes).where(takes.c.job_id == source_id)).one_or_none()
        if parent is not None:
            record_takes(conn, parent.shot_id, videos, prompt=prompt, parent=parent)

    return record


async def _submit(
    state: AppState, who: Principal, request: Request, job: JobRequest, route: str, on_created: Any = None
) -> JSONResponse:
    idem = idempotency.from_request(request.headers, who.account_id, route, job.fingerprint())
    submitted = await to_thread.run_sync(state.service.submit, who, job, idem, on_created)
    return replayable(submitted.body, submitted.replayed)


def _size(text: str | None) -> tuple[int, int] | None:
    try:
        return parse_size(text) if text else None
    except FramegateError as exc:
        raise BadRequest(exc.message, code=exc.code, param="size") from None


def _documented_create() -> dict[str, Any]:
    """What remix, extensions and edits document alike: a video from a ``Derived`` body, retried
    safely with an ``Idempotency-Key``."""
    return documented(
        returns=Video,
        json_body=Derived,
        errors=(402, 404, 409, 413),
        request_headers=IDEMPOTENCY_KEY,
        headers=REPLAYED,
    )


@router.post("/{video_id}/remix", **_documented_create())
async def remix(video_id: str, request: Request, state: StateDep, who: PrincipalDep) -> JSONResponse:
    """A new video from a completed one with a new prompt: the source's model, size, seconds, seed and
    settings unless the body overrides them; ``remixed_from_video_id`` names the source."""
    body = parse_model(Derived, await read_json_object(request))
    if body.video is not None:
        raise BadRequest("a remix's source is the video in the path", code="unknown_parameter", param="video")
    row, _ = await _completed_source(state, who, video_id, "video_id")
    params = _params(row)
    image = None
    if row.input_path:
        png = await to_thread.run_sync(lambda: Path(state.artifacts.input_file(row.input_path)).read_bytes())
        image = InputImage(png, row.input_sha256 or "")
    model = body.model or row.model
    # The source's steps and guidance carry over to the same model only, and only where a request may
    # set them (a hosted model fixes both).
    fixed: set[str] = {"steps", "guidance"}
    if model == row.model:
        fixed = set().union(*(o.spec.fixed for o in state.offers if o.spec.id == model))
    video = VideoRequest(
        mode=params.mode,
        model=model,
        size=_size(body.size) or (params.width, params.height),
        seconds=body.seconds or float(row.seconds),
        steps=None if "steps" in fixed else params.steps,
        guidance=None if "guidance" in fixed else params.guidance,
        seed=body.seed if body.seed is not None else params.seed,
        negative_prompt=params.negative_prompt,
        audio=params.audio,
    )
    job = JobRequest(
        prompt=body.prompt,
        video=video,
        project=row.project_id,
        image=image,
        webhook_url=await checked_webhook_url(state, body.webhook_url),
        source=(row.id, "remix"),
    )
    return await _submit(state, who, request, job, "videos.remix", _take_lineage(row.id, body.prompt))


async def _guided(
    request: Request, state: AppState, who: Principal, *, kind: str, which: Which
) -> tuple[Derived, Any, InputImage, bytes | None]:
    parsed = await _read(request, state)
    ref = _source_ref(parsed)
    body = parse_model(
        Derived, {k: v for k, v in parsed.fields.items() if k != "video"}, lax=parsed.upload is not None
    )
    row, path = (None, None) if ref is None else await _completed_source(state, who, ref, "video")
    image, seconds = await _frame(state, path, parsed.upload, which)
    if row is None and body.seconds is None and seconds is not None and kind == "edit":
        body = body.model_copy(update={"seconds": round(seconds, 3)})  # an edit keeps the upload's length
    return body, row, image, parsed.upload


def _guided_request(
    body: Derived, row: Any, image: InputImage, kind: str, seconds: float | None
) -> JobRequest:
    params = _params(row) if row is not None else None
    return JobRequest(
        prompt=body.prompt,
        video=VideoRequest(
            mode="i2v",
            model=body.model or (row.model if row is not None else None),
            size=_size(body.size) or ((params.width, params.height) if params else None),
            seconds=seconds,
            seed=body.seed,
        ),
        project=row.project_id if row is not None else None,
        image=image,
        source=(row.id, kind) if row is not None else ("", kind),
    )


def _route_i2v(state: AppState, who: Principal, job: JobRequest, named: bool) -> JobRequest:
    """The source's own model when it can take an image, else whichever model the router picks;
    ``400 unsupported_mode`` when none can."""
    try:
        state.service.route(job, who)
        return job
    except FramegateError as exc:
        if named or exc.code not in ("unsupported_mode", "no_candidate", "model_not_found"):
            raise
    fallback = replace(job, video=replace(job.video, model=None))
    try:
        state.service.route(fallback, who)
    except FramegateError as exc:
        raise BadRequest(
            f"no model can continue or edit from an image here: {exc.message}",
            code="unsupported_mode",
            param="model",
        ) from None
    return fallback


@router.post("/extensions", **_documented_create())
async def extend(request: Request, state: StateDep, who: PrincipalDep) -> JSONResponse:
    """Continue a completed video (or an uploaded clip): its last frame conditions an image-to-video
    segment of ``seconds``, which is joined after it into one MP4 (``seconds`` on the result is the
    joined total once it completes)."""
    body, row, image, upload = await _guided(request, state, who, kind="extension", which="last")
    job = _guided_request(body, row, image, "extension", body.seconds)
    job = replace(job, webhook_url=await checked_webhook_url(state, body.webhook_url))
    job = await to_thread.run_sync(_route_i2v, state, who, job, body.model is not None)

    def keep_upload(conn: Any, videos: list[dict[str, Any]]) -> None:
        if upload is not None:  # the worker joins the new segment after it
            state.artifacts.save_input(videos[0]["id"], upload, SOURCE_SUFFIX)

    return await _submit(state, who, request, job, "videos.extend", keep_upload)


@router.post("/edits", **_documented_create())
async def edit(request: Request, state: StateDep, who: PrincipalDep) -> JSONResponse:
    """Re-render a completed video (or an uploaded clip) guided by it: its first frame conditions an
    image-to-video render of the new prompt at the source's size and length, on a model that takes an
    image (``modes`` in ``GET /v1/models`` lists ``i2v``); ``400 unsupported_mode`` when none does."""
    body, row, image, _ = await _guided(request, state, who, kind="edit", which="first")
    seconds = body.seconds or (float(row.seconds) if row is not None else None)
    job = _guided_request(body, row, image, "edit", seconds)
    job = replace(job, webhook_url=await checked_webhook_url(state, body.webhook_url))
    job = await to_thread.run_sync(_route_i2v, state, who, job, body.model is not None)
    return await _submit(state, who, request, job, "videos.edit")


def _character_object(row: Any) -> dict[str, Any]:
    return {"id": row.id, "object": "character", "name": row.name, "created_at": int(row.created_at)}


@router.post("/characters", **documented(returns=Character, errors=(404, 409, 413)))
async def create_character_route(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """A named character from a video (an uploaded ``video`` file, or ``{"video": {"id": ...}}``): its
    middle frame becomes the reference image of later creates that send ``characters: [id]``."""
    parsed = await _read(request, state)
    ref = _source_ref(parsed)
    body = parse_model(CharacterBody, {k: v for k, v in parsed.fields.items() if k != "video"}, lax=True)
    path = None if ref is None else (await _completed_source(state, who, ref, "video"))[1]
    image, _ = await _frame(state, path, parsed.upload, "middle")
    row = await to_thread.run_sync(
        create_character, state.db, state.artifacts, who.account_id, body.name, image.png
    )
    return _character_object(row)


@router.get("/characters/{character_id}", **documented(returns=Character, errors=(404,)))
async def get_character_route(character_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    row = await to_thread.run_sync(get_character, state.db, who.account_id, character_id)
    return _character_object(row)
