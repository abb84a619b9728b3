"""``POST /v1/routes/explain`` (a dry run of the router) and ``GET /v1/backends`` (their health)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request

from billing import credits
from gateway.api.bodies import read_create_body
from gateway.api.contract import documented
from gateway.api.deps import app_state, principal
from gateway.api.images import validate_image
from gateway.api.objects import BackendList, RouteExplanation
from gateway.api.schemas import VIDEO_FORM, VideoCreate
from gateway.engine.jobs.submission import check_compare
from gateway.engine.keys import Principal
from gateway.state import AppState

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["routing"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


@router.post(
    "/routes/explain",
    **documented(
        returns=RouteExplanation, json_body=VideoCreate, form_body=VIDEO_FORM, errors=(404, 413, 415, 503)
    ),
)
async def explain(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Rank the candidates for a ``POST /v1/videos`` body without creating anything: each with its price,
    estimated time (queue + cold load + run) and score, and why every other candidate was excluded."""
    body = await read_create_body(request, max_body_bytes=state.settings.max_body_bytes)
    image = None
    if body.image_bytes is not None:
        image = await to_thread.run_sync(
            lambda: validate_image(body.image_bytes or b"", max_pixels=state.settings.max_image_pixels)
        )
    if not (body.fields.prompt or "").strip():
        body.fields = body.fields.model_copy(update={"prompt": "explain"})
    asked = body.fields.to_request(image)
    if asked.compare:
        # An A/B compare runs every listed model: rank those, as the create would run them.
        check_compare(asked.compare)
        prefs = asked.routing or state.service.routing_defaults(who.key_id)
        asked = replace(asked, routing=replace(prefs, only=asked.compare), compare=())
    routed = await to_thread.run_sync(state.service.preview, asked, who)
    ranked = [
        {
            "rank": i + 1,
            "model": r.candidate.spec.id,
            "backend": r.candidate.backend,
            "why": r.why,
            "score": round(r.score, 6),
            "price": credits(r.candidate.price_mc),
            "eta_seconds": round(r.estimate.total, 3),
            "queue_seconds": round(r.estimate.queue_seconds, 3),
            "load_seconds": round(r.estimate.load_seconds, 3),
            "run_seconds": round(r.estimate.run_seconds, 3),
            "warm": r.estimate.warm,
            "size": r.candidate.params.size,
            "frames": r.candidate.params.frames,
            "steps": r.candidate.params.steps,
        }
        for i, r in enumerate(routed.ranked)
    ]
    excluded = [
        {"model": e.model, "backend": e.backend, "code": e.code, "reason": e.reason} for e in routed.excluded
    ]
    routing = body.fields.routing
    policy = routing.policy if routing is not None else state.service.routing_defaults(who.key_id).policy
    return {"object": "route.explanation", "policy": policy, "ranked": ranked, "excluded": excluded}


@router.get("/backends", **documented(returns=BackendList))
async def backends(state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Each backend's circuit state, recent error rate, median latency, queued work and warm models."""
    return {"object": "list", "data": await to_thread.run_sync(state.fleet.describe)}
