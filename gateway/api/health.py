"""``/healthz`` (the process is up), ``/readyz`` (it can serve: database reachable), ``/metrics``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ..state import AppState
from .deps import app_state

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    try:
        with state.db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse(
        {"status": "ready", "workers": state.settings.workers, "backends": sorted(state.adapters)}
    )


@router.get("/metrics")
def metrics(state: Annotated[AppState, Depends(app_state)]) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
