"""What every dashboard page shares: templates, the signed-in session, CSRF checks, redirects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..api.edge import clean_form_value
from ..errors import ApiError
from ..state import AppState
from .session import COOKIE, Session, find_session

__all__ = ["SignedOut", "render", "require_session", "see_other", "state_of", "verify_csrf"]

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["credits"] = lambda v: "-" if v is None else f"{v:,.3f}".rstrip("0").rstrip(".")


class SignedOut(Exception):
    """Raised by pages that need a session; answered with a redirect to the sign-in page."""


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.fg
    return state


def require_session(request: Request) -> Session:
    session = find_session(state_of(request).db, request.cookies.get(COOKIE))
    if session is None:
        raise SignedOut
    return session


async def verify_csrf(request: Request, session: Session) -> dict[str, Any]:
    """The posted form, if its CSRF token matches the session's; 403 otherwise."""
    form = await request.form()
    fields = {k: clean_form_value(k, v) if isinstance(v, str) else v for k, v in form.multi_items()}
    token = fields.get("csrf")
    if not session.csrf_ok(token if isinstance(token, str) else None):
        error = ApiError(
            "the form is stale or was not sent by this dashboard; reload the page", code="csrf_failed"
        )
        error.status = 403
        raise error
    return fields


def render(
    request: Request, template: str, session: Session | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    flash = request.query_params.get("flash")
    error = request.query_params.get("error")
    html = _ENV.get_template(template).render(
        request=request,
        session=session,
        csrf=session.csrf if session else "",
        flash=flash,
        error=error,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def see_other(url: str, *, flash: str | None = None, error: str | None = None) -> RedirectResponse:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in (("flash", flash), ("error", error)) if v})
    return RedirectResponse(f"{url}{'&' if '?' in url else '?'}{query}" if query else url, status_code=303)
