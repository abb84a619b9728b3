"""``/healthz`` (the process is up), ``/readyz`` (it can serve: database reachable), ``/metrics``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from gateway.api.contract import documented
from gateway.api.deps import app_state
from gateway.api.objects import Health, Readiness
from gateway.errors import Unauthorized
from gateway.state import AppState

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", **documented(returns=Health, auth=False))
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", **documented(returns=Readiness, auth=False, also={503: Readiness}))
def readyz(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    try:
        with state.db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse(
        {"status": "ready", "workers": state.settings.workers, "backends": sorted(state.adapters)}
    )


@router.get(
    "/metrics",
    response_class=Response,
    **documented(media={"text/plain": {"type": "string"}}, auth=False, errors=(401,)),
)
def metrics(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Response:
    """Prometheus metrics; with ``FRAMEGATE_METRICS_TOKEN`` set, only for ``Authorization: Bearer <it>``."""
    token = state.settings.metrics_token
    if token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
            raise Unauthorized(
                "/metrics needs 'Authorization: Bearer <FRAMEGATE_METRICS_TOKEN>'",
                code="invalid_metrics_token",
            )
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
