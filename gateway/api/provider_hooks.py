"""``POST /v1/providers/{backend}/webhook``: a hosted provider's signed webhook, a faster path than
polling (never the only one). It is verified (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``, as Replicate and OpenAI send them) and then only wakes the poll of that provider
job; the job's state is always read from the provider's API, never taken from the webhook's body."""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from adapters.hosted import HostedAdapter
from gateway.api.contract import documented
from gateway.api.deps import app_state
from gateway.api.edge import loads_json_off_loop
from gateway.api.objects import WebhookAck
from gateway.engine.webhooks.signing import signature_header
from gateway.errors import NotFound, Unauthorized
from gateway.state import AppState

__all__ = ["router", "verify_standard_webhook"]

router = APIRouter(tags=["providers"])

TOLERANCE_SECONDS = 300


def verify_standard_webhook(secret: str, headers: Any, body: bytes, now: float | None = None) -> bool:
    """Whether ``body`` carries a valid ``v1`` signature by ``secret``, stamped within five minutes."""
    webhook_id, stamp = headers.get("webhook-id") or "", headers.get("webhook-timestamp") or ""
    given = (headers.get("webhook-signature") or "").split()
    # isascii: isdigit() also accepts superscripts, which int() refuses; 12 digits reach year 33658.
    if not webhook_id or not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not given:
        return False
    if abs((now or time.time()) - int(stamp)) > TOLERANCE_SECONDS:
        return False
    expected = signature_header([secret], webhook_id, int(stamp), body).encode()
    return any(hmac.compare_digest(expected, part.encode("utf-8", "replace")) for part in given)


@router.post(
    "/v1/providers/{backend}/webhook",
    **documented(returns=WebhookAck, json_body={"type": "object"}, auth=False, errors=(401, 404, 413)),
)
async def provider_webhook(
    backend: str, request: Request, state: Annotated[AppState, Depends(app_state)]
) -> dict[str, Any]:
    """A provider's webhook about one of its jobs. Authenticated by its signature, not an API key."""
    adapter = state.adapters.get(backend)
    if not isinstance(adapter, HostedAdapter) or not adapter.webhook_secret:
        raise NotFound(f"no hosted backend {backend!r} accepts webhooks", code="not_found", param="backend")
    body = await request.body()
    # The signature first (one HMAC over the bytes): an unsigned body is never parsed.
    if not verify_standard_webhook(adapter.webhook_secret, request.headers, body):
        raise Unauthorized("the webhook signature is missing, stale or wrong", code="invalid_signature")
    parsed = await loads_json_off_loop(body)  # a big signed body still never holds the loop
    followed = adapter.nudge(parsed)
    return {"received": True, "outcome": "polled" if followed else "not_followed_here"}
