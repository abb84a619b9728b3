"""``GET /v1/models``: every model with its modes, sizes, frame rule and price."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from billing import PriceRule
from gateway.api.contract import documented
from gateway.api.deps import app_state, principal
from gateway.api.objects import ModelList, ModelObject
from gateway.engine.keys import Principal
from gateway.errors import NotFound
from gateway.state import AppState
from local_models import ModelSpec

__all__ = ["model_object", "router"]

router = APIRouter(prefix="/v1/models", tags=["models"])


def model_object(spec: ModelSpec, backends: list[str], price: PriceRule | None = None) -> dict[str, Any]:
    """A model as ``/v1/models`` shows it: its rules (the lengths it renders, the parameters a request
    may not set) and its price as quoted (per second, by size, per clip)."""
    rule = price.as_dict() if price is not None else {"credits_per_second": spec.price_per_second}
    return {
        "id": spec.id,
        "object": "model",
        "created": 0,
        "owned_by": "framegate",
        "family": spec.family,
        "description": spec.description,
        "modes": sorted(spec.modes),
        "sizes": spec.sizes.as_dict(),
        "frames": spec.frames.as_dict(),
        "fps": spec.fps,
        "fps_range": list(spec.fps_range) if spec.fps_range else [spec.fps, spec.fps],
        "default_seconds": spec.default_seconds,
        "default_steps": spec.default_steps,
        "default_guidance": spec.default_guidance,
        "audio": spec.audio,
        "negative_prompt": spec.negative_prompt,
        "price": {k: v for k, v in rule.items() if v is not None},
        "seconds_allowed": list(spec.seconds_allowed) if spec.seconds_allowed is not None else None,
        "fixed_parameters": sorted(spec.fixed),
        "provider": spec.extras.get("hosted"),
        "backends": backends,
    }


def _catalog(state: AppState) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for offer in state.offers:
        if offer.spec.id in out:
            out[offer.spec.id]["backends"].append(offer.backend)
        else:
            out[offer.spec.id] = model_object(offer.spec, [offer.backend], offer.price_rule)
    return out


@router.get("", **documented(returns=ModelList))
async def list_models(
    state: Annotated[AppState, Depends(app_state)], who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    return {"object": "list", "data": sorted(_catalog(state).values(), key=lambda m: m["id"])}


@router.get("/{model_id}", **documented(returns=ModelObject, errors=(404,)))
async def retrieve_model(
    model_id: str,
    state: Annotated[AppState, Depends(app_state)],
    who: Annotated[Principal, Depends(principal)],
) -> dict[str, Any]:
    found = _catalog(state).get(model_id)
    if found is None:
        raise NotFound(f"model {model_id!r} does not exist", code="model_not_found", param="model_id")
    return found
