"""``POST /v1/quotes``: what a request would cost, on one model or on each model of an A/B compare."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Request

from billing import credits
from local_models import Mode

from ..auth import Principal
from ..errors import BadRequest
from ..state import AppState
from .bodies import parse_json_body
from .contract import documented
from .deps import app_state, principal
from .edge import read_json_object
from .objects import QuoteResult
from .schemas import QuoteBody, VideoCreate

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["quotes"])


def _quote(state: AppState, fields: VideoCreate, image: Any, model: str | None) -> dict[str, Any]:
    c = state.service.route(fields.model_copy(update={"model": model or fields.model}), image).first
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


class _Image:
    """Stands in for an uploaded image when a quote only needs to know the mode."""

    sha256 = ""
    png = b""


@router.post("/quotes", **documented(returns=QuoteResult, json_body=QuoteBody, errors=(413, 503)))
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
    image = _Image() if (mode == "i2v" or body.image_bytes is not None) else None
    targets = models or [body.fields.model]
    quotes = [await to_thread.run_sync(_quote, state, body.fields, image, m) for m in targets]
    total = sum(q["cost"] for q in quotes)
    return {"object": "quote", "data": quotes, "total": round(total, 3)}
