"""``POST /v1/prompts/analyze`` and ``POST /v1/qc``: prompt help and quality checks for any clip."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from local_models.qc import check_frames
from local_models.video import read_frames

from ..auth import Principal
from ..creative import analyze_prompt, wants_motion
from ..errors import BadRequest
from ..state import AppState
from .deps import app_state, principal
from .schemas import parse_model

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["creative"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]
MAX_QC_FRAMES = 2000


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=20_000)


@router.post("/prompts/analyze")
async def analyze(request: Request, who: PrincipalDep) -> dict[str, Any]:
    """Which of scene, motion (incl. camera), mood and temporal arc the prompt has, and what to add."""
    try:
        raw = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object with a prompt", code="invalid_json") from None
    req = parse_model(AnalyzeRequest, raw)
    return analyze_prompt(req.prompt).as_dict()


@router.post("/qc")
async def quality_check(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Quality checks for an uploaded clip (multipart ``file``; optional ``prompt`` and ``model``)."""
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=state.settings.max_body_bytes)
    except Exception:
        raise BadRequest(
            "send the clip as multipart/form-data with a 'file' part", code="invalid_body"
        ) from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BadRequest("a 'file' part with the video is required", code="missing_file", param="file")
    prompt = form.get("prompt")
    prompt = prompt if isinstance(prompt, str) and prompt.strip() else None
    model = form.get("model") if isinstance(form.get("model"), str) else None
    shapes = any(o.spec.id == model and o.spec.family == "shapes" for o in state.offers)
    data = await upload.read()
    await form.close()

    def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "clip"
            path.write_bytes(data)
            try:
                frames, fps = read_frames(path)
            except Exception:
                raise BadRequest(
                    "the file is not a video that can be decoded", code="invalid_video", param="file"
                ) from None
        if len(frames) > MAX_QC_FRAMES:
            raise BadRequest(
                f"the clip has {len(frames)} frames; at most {MAX_QC_FRAMES} are checked",
                code="video_too_long",
                param="file",
            )
        report = check_frames(
            frames, prompt=prompt, wants_motion=wants_motion(prompt) if prompt else None, shapes_model=shapes
        )
        return {
            "object": "qc.report",
            "frames": len(frames),
            "fps": fps,
            "width": int(frames.shape[2]),
            "height": int(frames.shape[1]),
            **report.as_dict(),
        }

    return await to_thread.run_sync(run)
