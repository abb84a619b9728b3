"""Buying credits: Stripe Checkout sessions, and the webhook that credits them exactly once."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

import billing
from gateway.api.contract import IDEMPOTENCY_KEY, REPLAYED, documented, replayable
from gateway.api.deps import app_state, principal
from gateway.api.edge import loads_json_off_loop, read_json_object
from gateway.api.objects import CheckoutSession, PackList, WebhookAck
from gateway.api.schemas import parse_model
from gateway.engine import idempotency
from gateway.engine.keys import Principal
from gateway.state import AppState

__all__ = ["router"]

router = APIRouter(prefix="/v1/billing", tags=["billing"])
StateDep = Annotated[AppState, Depends(app_state)]


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    pack: str = Field(max_length=64)
    success_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://[^\s]+$")
    cancel_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://[^\s]+$")


@router.get("/packs", **documented(returns=PackList))
async def list_packs(state: StateDep, who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": p.id,
                "credits": billing.credits(p.credits_mc),
                "price_cents": p.price_cents,
                "currency": p.currency,
                "name": p.name,
            }
            for p in state.packs.values()
        ],
        "enabled": bool(state.stripe.secret_key),
    }


@router.post(
    "/checkout",
    **documented(
        returns=CheckoutSession,
        json_body=CheckoutRequest,
        errors=(409, 413, 503),
        request_headers=IDEMPOTENCY_KEY,
        headers=REPLAYED,
    ),
)
async def create_checkout(
    request: Request, state: StateDep, who: Annotated[Principal, Depends(principal)]
) -> JSONResponse:
    """A Stripe Checkout Session for a credit pack: ``{"id", "url"}``; send the buyer to ``url``."""
    req = parse_model(CheckoutRequest, await read_json_object(request))
    base = state.settings.base_url()

    idem = idempotency.from_request(request.headers, who.account_id, "billing.checkout", req.model_dump())

    def create() -> tuple[dict[str, Any], bool]:
        if idem is not None:
            with state.db.read() as conn:
                if (replay := idempotency.find(conn, idem, forget=False)) is not None:
                    return replay.body, True
        session, pack = billing.create_checkout(
            state.stripe,
            state.packs,
            req.pack,
            who.account_id,
            success_url=req.success_url or f"{base}/?checkout=success",
            cancel_url=req.cancel_url or f"{base}/?checkout=cancelled",
            # Stripe deduplicates too, so a retry after a lost response cannot open a second session.
            # Stripe's keys are at most 255 characters: the client's key (up to 255) goes by its hash.
            idempotency_key=f"framegate:{who.account_id}:{_digest(idem.key)}" if idem else None,
        )
        body = {
            "object": "checkout.session",
            "id": session["id"],
            "url": session["url"],
            "pack": pack.id,
            "credits": billing.credits(pack.credits_mc),
        }
        try:
            with state.db.write() as conn:
                if idem is not None and (replay := idempotency.find(conn, idem)) is not None:
                    return replay.body, True
                billing.record_session(conn, session["id"], who.account_id, pack)
                if idem is not None:
                    idempotency.remember(conn, idem, 200, body)
        except IntegrityError as exc:
            # The same key's other request recorded Stripe's (deduplicated) session first.
            return idempotency.replay_race(state.db, idem, exc).body, True
        return body, False

    return replayable(*await to_thread.run_sync(create))


@router.post(
    "/stripe/webhook",
    **documented(returns=WebhookAck, json_body={"type": "object"}, auth=False, errors=(413, 503)),
)
async def stripe_webhook(request: Request, state: StateDep) -> dict[str, Any]:
    """Stripe's events. Authenticated by the ``Stripe-Signature`` over the raw body, not an API key."""
    payload = await request.body()
    try:  # the signature first: an unsigned body costs one HMAC, never a JSON parse
        event = billing.verify_event(
            payload, request.headers.get("stripe-signature"), state.stripe.webhook_secret
        )
    except billing.BillingError:
        state.metrics.webhooks.labels(outcome="rejected").inc()
        raise
    await loads_json_off_loop(payload)  # then the edge rules (depth, text, numbers) on what is stored

    def apply() -> str:
        with state.db.write() as conn:
            return billing.handle_webhook(conn, event)

    outcome = await to_thread.run_sync(apply)
    state.metrics.webhooks.labels(outcome=outcome).inc()
    if outcome == "credited":
        state.metrics.credits_purchased.inc(_purchased_credits(state, event))
    return {"received": True, "outcome": outcome}


def _purchased_credits(state: AppState, event: Any) -> float:
    with state.db.read() as conn:
        mc = billing.session_credits_mc(conn, event["data"]["object"]["id"])
    return billing.credits(mc or 0)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
