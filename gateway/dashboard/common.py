"""What every dashboard page shares: templates, the signed-in session, CSRF checks, redirects."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.api.edge import clean_form_value
from gateway.dashboard.session import COOKIE, LOGIN_COOKIE, Session, find_session
from gateway.errors import Forbidden
from gateway.state import AppState

__all__ = ["SignedOut", "render", "require_session", "see_other", "state_of", "verify_csrf"]

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["utc"] = lambda v: (
    "-" if v is None else datetime.fromtimestamp(float(v), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
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
        raise Forbidden(
            "the form is stale or was not sent by this dashboard; reload the page", code="csrf_failed"
        )
    return fields


# Messages that arrive from outside the dashboard (Stripe's return URLs, sign-out) are fixed texts.
NOTICES = {
    "checkout_success": ("flash", "Thanks! Your credits arrive once Stripe confirms the payment."),
    "checkout_cancelled": ("error", "Checkout cancelled."),
    "signed_out": ("flash", "Signed out."),
}


def _seal(request: Request, kind: str, text: str) -> str | None:
    """A message's signature, keyed by this browser's own cookie token (the session's, or the sign-in
    page's): a link from elsewhere cannot make the dashboard say something it did not say."""
    token = request.cookies.get(COOKIE) or request.cookies.get(LOGIN_COOKIE)
    if not token:
        return None
    key = token.encode("utf-8", "surrogatepass")
    return hmac.new(key, f"{kind}:{text}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def _message(request: Request, kind: str) -> str | None:
    text, sig = request.query_params.get(kind), request.query_params.get(f"{kind}_sig")
    if not text or not sig:
        return None
    expected = _seal(request, kind, text)
    if expected is None or not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "surrogatepass")):
        return None
    return text


def render(
    request: Request, template: str, session: Session | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    messages = {kind: _message(request, kind) for kind in ("flash", "error", "warning")}
    notice = NOTICES.get(request.query_params.get("notice") or "")
    if notice is not None:
        messages[notice[0]] = notice[1]
    html = _ENV.get_template(template).render(
        request=request,
        session=session,
        csrf=session.csrf if session else "",
        flash=messages["flash"],
        error=messages["error"],
        warning=messages["warning"],
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _short(text: str, limit: int = 300) -> str:
    """At most ``limit`` characters, keeping both ends (what was refused, and why)."""
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def see_other(
    url: str,
    *,
    request: Request | None = None,
    flash: str | None = None,
    error: str | None = None,
    warning: str | None = None,
) -> RedirectResponse:
    """A 303 to ``url`` carrying messages for the next page, signed for this browser (``request``)."""
    from urllib.parse import urlencode

    params: dict[str, str] = {}
    for kind, text in (("flash", flash), ("error", error), ("warning", warning)):
        if text and request is not None:
            text = _short(text)  # messages can echo what was posted: keep the Location header short
            sig = _seal(request, kind, text)
            if sig is not None:
                params[kind], params[f"{kind}_sig"] = text, sig
    query = urlencode(params)
    return RedirectResponse(f"{url}{'&' if '?' in url else '?'}{query}" if query else url, status_code=303)
