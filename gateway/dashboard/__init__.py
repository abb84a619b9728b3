"""The dashboard, served by the gateway at ``/``: server-rendered pages over the same services as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from gateway.dashboard.actions import router as actions_router
from gateway.dashboard.common import SignedOut
from gateway.dashboard.live import router as live_router
from gateway.dashboard.pages import router as pages_router

__all__ = ["install_dashboard"]


def install_dashboard(app: FastAPI) -> None:
    app.include_router(pages_router)
    app.include_router(actions_router)
    app.include_router(live_router)
    static = Path(__file__).with_name("static")
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:  # browsers ask for it whatever the page links
        return FileResponse(static / "favicon.svg", media_type="image/svg+xml")

    async def signed_out(request: Request, exc: Exception) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    app.add_exception_handler(SignedOut, signed_out)
