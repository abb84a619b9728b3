"""``POST /v1/quotes``: what a request would cost, on one model or on each model of an A/B compare."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Request

from billing import credits
from gateway.api.bodies import parse_json_body
from gateway.api.contract import documented
from gateway.api.deps import app_state, principal
from gateway.api.edge import read_json_object
from gateway.api.objects import QuoteResult
from gateway.api.schemas import QuoteBody
from gateway.engine.jobs.submission import JobRequest, check_compare
from gateway.engine.keys import Principal
from gateway.errors import BadRequest
from gateway.state import AppState
from local_models import Mode

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["quotes"])


def _quote(state: AppState, who: Principal, request: JobRequest, model: str | None) -> dict[str, Any]:
    if model is not None:
        request = replace(request, video=replace(request.video, model=model), compare=())
    # The caller's key routing defaults apply, as they do to a create and to explain.
    c = state.service.preview(request, who).first
    return {
        "model": c.spec.id,
        "backend": c.backend,
        "cost": credits(c.price_mc),
        "size": c.params.size,
        "frames": c.params.frames,
        "fps": c.params.fps,
        "duration": round(c.params.duration, 4),
        "steps": c.params.steps,
        "mode": c.params.mode,
    }


@router.post("/quotes", **documented(returns=QuoteResult, json_body=QuoteBody, errors=(404, 413, 503)))
async def create_quote(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    who: Annotated[Principal, Depends(principal)],
) -> dict[str, Any]:
    """Price a request without creating anything. Body: the fields of ``POST /v1/videos`` plus
    ``models`` (a list, for an A/B compare) and ``mode`` (``t2v``/``i2v``, instead of sending an image)."""
    raw = await read_json_object(request)
    models = raw.pop("models", None)
    mode: Mode | Literal[""] = raw.pop("mode", "") or ""
    if models is not None and (
        not isinstance(models, list)
        or not all(isinstance(m, str) for m in models)
        or not 1 <= len(models) <= 8
    ):
        raise BadRequest(
            "models must be a list of 1 to 8 model ids", code="invalid_parameter", param="models"
        )
    if mode not in ("", "t2v", "i2v"):
        raise BadRequest("mode must be t2v or i2v", code="invalid_parameter", param="mode")
    raw.setdefault("prompt", "quote")
    body = parse_json_body(raw)
    if mode == "t2v" and body.image_bytes is not None:
        raise BadRequest(
            "mode t2v contradicts the input_reference sent", code="invalid_parameter", param="mode"
        )
    wanted: Mode = "i2v" if (mode == "i2v" or body.image_bytes is not None) else "t2v"
    asked = body.fields.to_request(None, mode=wanted)
    # An A/B compare is priced as it would be created: one job per model.
    listed = models if models is not None else list(asked.compare) or None
    if models is not None and (asked.compare or body.fields.model):
        which = "routing.compare" if asked.compare else "model"
        raise BadRequest(f"send models or {which}, not both", code="invalid_parameter", param="models")
    check_compare(asked.compare)  # as a create answers the same body
    if models is not None and len(set(models)) != len(models):
        raise BadRequest("models lists a model twice", code="invalid_parameter", param="models")
    targets: list[str | None] = list(listed) if listed else [None]
    quotes = [await to_thread.run_sync(_quote, state, who, asked, m) for m in targets]
    total = sum(q["cost"] for q in quotes)
    return {"object": "quote", "data": quotes, "total": round(total, 3)}
