"""``POST /v1/prompts/analyze`` and ``POST /v1/qc``: prompt help and quality checks for any clip."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from gateway.api.contract import BINARY, documented
from gateway.api.deps import app_state, principal
from gateway.api.edge import clean_form_value, read_json_object
from gateway.api.objects import PromptAnalysis, QcReport
from gateway.api.schemas import FORM_TEXT, parse_model
from gateway.creative import analyze_prompt, wants_motion
from gateway.engine.keys import Principal
from gateway.errors import BadRequest, PayloadTooLarge, RateLimited
from gateway.state import AppState
from local_models.qc import check_frames
from local_models.video import VideoTooLarge, read_frames_bounded

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["creative"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1, max_length=20_000)


@router.post(
    "/prompts/analyze", **documented(returns=PromptAnalysis, json_body=AnalyzeRequest, errors=(413,))
)
async def analyze(request: Request, who: PrincipalDep) -> dict[str, Any]:
    """Which of scene, motion (incl. camera), mood and temporal arc the prompt has, and what to add."""
    req = parse_model(AnalyzeRequest, await read_json_object(request))
    return analyze_prompt(req.prompt).as_dict()


def _qc_fields(form: Any, max_prompt_chars: int) -> tuple[UploadFile, str | None, str | None]:
    """The upload and the optional prompt and model, under the same rules as every other form."""
    upload: UploadFile | None = None
    text: dict[str, str] = {}
    for key, value in form.multi_items():
        if key not in ("file", "prompt", "model"):
            raise BadRequest(f"unknown parameter {key!r}", code="unknown_parameter", param=key)
        if key in text or (key == "file" and upload is not None):
            raise BadRequest(f"{key} is sent twice", code="invalid_parameter", param=key)
        if key == "file":
            if not isinstance(value, UploadFile):
                raise BadRequest("'file' must be a file part", code="missing_file", param="file")
            upload = value
        elif isinstance(value, str):
            text[key] = clean_form_value(key, value)
        else:
            raise BadRequest(f"{key} must be text, not a file", code="invalid_parameter", param=key)
    if upload is None:
        raise BadRequest("a 'file' part with the video is required", code="missing_file", param="file")
    prompt = text.get("prompt", "").strip() or None
    if prompt is not None and len(prompt) > max_prompt_chars:
        raise BadRequest(
            f"prompt is {len(prompt)} characters; the limit is {max_prompt_chars}",
            code="prompt_too_long",
            param="prompt",
        )
    return upload, prompt, text.get("model") or None


@router.post(
    "/qc",
    **documented(
        returns=QcReport,
        form_body={
            "type": "object",
            "required": ["file"],
            "properties": {"file": BINARY, "prompt": FORM_TEXT, "model": FORM_TEXT},
        },
        errors=(413,),
    ),
)
async def quality_check(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Quality checks for an uploaded clip (multipart ``file``; optional ``prompt`` and ``model``).

    The clip is decoded under ``qc_max_frames`` / ``qc_max_pixels`` (refused from its metadata before
    decoding when it declares more), frame by frame at QC resolution: 400 ``video_too_long``, 413
    ``video_too_large``, 400 ``invalid_video``. A body over ``max_body_bytes`` is 413 ``request_too_large``.
    """
    settings = state.settings
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=settings.max_body_bytes)
    except (HTTPException, MultiPartException, ValueError):  # not the body limit's 413: let it through
        raise BadRequest(
            "send the clip as multipart/form-data with a 'file' part", code="invalid_body"
        ) from None
    upload, prompt, model = _qc_fields(form, settings.max_prompt_chars)
    prompt_check = next(
        (o.spec.prompt_check for o in state.offers if o.spec.id == model and o.spec.prompt_check), None
    )
    # Checking a long clip is seconds to minutes of CPU: a few at a time per process, the rest told
    # to come back (rather than queueing without bound behind them).
    if not state.qc_slots.acquire(blocking=False):
        await form.close()
        raise RateLimited(
            "quality checks are busy on this gateway; try again shortly",
            code="qc_busy",
            retry_after=5,
        )

    def run() -> dict[str, Any]:
        try:
            return check(upload)
        finally:
            state.qc_slots.release()

    def check(upload: UploadFile) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "clip"
            with path.open("wb") as out:  # the upload is spooled to disk already: copy it in chunks
                upload.file.seek(0)
                shutil.copyfileobj(upload.file, out)
            try:
                clip = read_frames_bounded(
                    path, max_frames=settings.qc_max_frames, max_pixels=settings.qc_max_pixels
                )
            except VideoTooLarge as exc:
                raise PayloadTooLarge(exc.message, code=exc.code, param=exc.param) from None
        report = check_frames(
            clip.frames,
            prompt=prompt,
            wants_motion=wants_motion(prompt) if prompt else None,
            prompt_check=prompt_check,
        )
        return {
            "object": "qc.report",
            "frames": len(clip.frames),
            "fps": clip.fps,
            "width": clip.width,
            "height": clip.height,
            **report.as_dict(),
        }

    try:
        return await to_thread.run_sync(run)
    finally:
        await form.close()
