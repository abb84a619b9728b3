"""Buying credits through Stripe Checkout, and crediting them exactly once from webhooks.

The credits granted come from our own record of the Checkout Session (which pack we sold), never
from the webhook's payload or anything else a caller can change. A session is credited once,
whatever the order or number of deliveries: the event id and the session's transfer key are unique,
and both are written in the same transaction as the ledger entries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from .errors import (
    BillingNotConfigured,
    CheckoutKeyReused,
    InvalidWebhook,
    PaymentProviderFailed,
    UnknownPack,
)
from .ledger import purchase
from .schema import stripe_events, stripe_sessions

__all__ = [
    "CreditPack",
    "StripeConfig",
    "create_checkout",
    "handle_webhook",
    "record_session",
    "session_credits_mc",
    "verify_event",
]


@dataclass(frozen=True)
class CreditPack:
    id: str
    credits_mc: int
    price_cents: int
    currency: str = "usd"
    name: str | None = None


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str | None
    webhook_secret: str | None
    api_base: str | None = None

    def client(self) -> Any:
        import stripe

        if not self.secret_key:
            raise BillingNotConfigured("buying credits is not configured on this gateway (no Stripe key)")
        kwargs: dict[str, Any] = {"max_network_retries": 2}
        if self.api_base:
            kwargs["base_addresses"] = {"api": self.api_base}
        return stripe.StripeClient(self.secret_key, **kwargs)


def create_checkout(
    config: StripeConfig,
    packs: dict[str, CreditPack],
    pack_id: str,
    account_id: str,
    *,
    success_url: str,
    cancel_url: str,
    idempotency_key: str | None = None,
) -> tuple[Any, CreditPack]:
    """Create a Checkout Session (payment mode) for ``pack_id``. Call :func:`record_session` after."""
    client = config.client()
    pack = packs.get(pack_id)
    if pack is None:
        known = ", ".join(sorted(packs)) or "none are configured"
        raise UnknownPack(f"unknown credit pack {pack_id!r} (packs: {known})", param="pack")
    import stripe

    try:
        session = _create_session(client, pack, account_id, success_url, cancel_url, idempotency_key)
    except stripe.IdempotencyError:
        raise CheckoutKeyReused(
            "this Idempotency-Key was already used for a different checkout", param="Idempotency-Key"
        ) from None
    except stripe.StripeError as exc:
        raise PaymentProviderFailed(f"Stripe refused the checkout: {exc.user_message or exc}") from None
    session_id, url = getattr(session, "id", None), getattr(session, "url", None)
    if not (isinstance(session_id, str) and 0 < len(session_id) <= 255 and isinstance(url, str) and url):
        raise PaymentProviderFailed("Stripe answered without a usable Checkout Session (id and url)")
    return session, pack


def _create_session(
    client: Any,
    pack: CreditPack,
    account_id: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str | None,
) -> Any:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "client_reference_id": account_id,
            "metadata": {"account_id": account_id, "pack": pack.id},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": pack.currency,
                        "unit_amount": pack.price_cents,
                        "product_data": {"name": pack.name or f"{pack.credits_mc // 1000} Framegate credits"},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": idempotency_key} if idempotency_key else None,
    )


def record_session(conn: Connection, session_id: str, account_id: str, pack: CreditPack) -> None:
    conn.execute(
        insert(stripe_sessions).values(
            id=session_id,
            account_id=account_id,
            pack_id=pack.id,
            credits_mc=pack.credits_mc,
            price_cents=pack.price_cents,
            currency=pack.currency,
            status="open",
            created_at=time.time(),
        )
    )


def session_credits_mc(conn: Connection, session_id: str) -> int | None:
    """The credits (millicredits) that checkout session ``session_id`` buys, or None if unknown."""
    mc = conn.execute(
        select(stripe_sessions.c.credits_mc).where(stripe_sessions.c.id == session_id)
    ).scalar_one_or_none()
    return None if mc is None else int(mc)


def verify_event(payload: bytes, signature: str | None, secret: str | None, tolerance: int = 300) -> Any:
    """The verified event, or :class:`InvalidWebhook` (bad, stale or missing signature)."""
    import stripe

    if not secret:
        raise BillingNotConfigured("Stripe webhooks are not configured on this gateway")
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    if not signature.isascii():
        raise InvalidWebhook("invalid Stripe-Signature header")
    try:
        # The signature only: construct_event would also build an object and fails on odd shapes.
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise InvalidWebhook(f"invalid Stripe webhook: {exc}") from None
    # The verified bytes, as plain JSON (the library's objects are not dicts). A correct signature
    # vouches for the sender, not for the shape: check what handle_webhook reads.
    event = json.loads(payload)
    data = event.get("data") if isinstance(event, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(obj, dict)
        and isinstance(obj.get("id", ""), str)
        # what is stored: event ids and session ids up to 255 characters, types up to 64
        and len(event["id"]) <= 255
        and len(event["type"]) <= 64
        and len(obj.get("id", "")) <= 255
    ):
        raise InvalidWebhook("the event is not a Stripe event object (id, type, data.object)")
    return event


_CREDIT_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


def handle_webhook(conn: Connection, event: Any) -> str:
    """Apply one verified event; returns its outcome (``credited``, ``duplicate``, ``ignored``, ...)."""
    obj = event["data"]["object"]
    session_id = obj.get("id") if event["type"].startswith("checkout.session.") else None
    outcome = "ignored"
    if event["type"] in _CREDIT_EVENTS:
        paid = (
            event["type"] == "checkout.session.async_payment_succeeded" or obj.get("payment_status") == "paid"
        )
        outcome = _credit(conn, session_id) if paid else "awaiting_payment"
    try:
        with conn.begin_nested():
            conn.execute(
                insert(stripe_events).values(
                    id=event["id"],
                    type=event["type"],
                    session_id=session_id,
                    outcome=outcome,
                    received_at=time.time(),
                )
            )
    except IntegrityError:
        return "duplicate"
    return outcome


def _credit(conn: Connection, session_id: str | None) -> str:
    if not session_id:
        return "ignored"
    row = conn.execute(select(stripe_sessions).where(stripe_sessions.c.id == session_id)).one_or_none()
    if row is None:
        return "unknown_session"
    posted = purchase(
        conn,
        row.account_id,
        row.credits_mc,
        key=f"stripe:session:{session_id}",
        detail={"session": session_id, "pack": row.pack_id, "price_cents": row.price_cents},
    )
    if posted is None:
        return "already_credited"
    conn.execute(
        update(stripe_sessions)
        .where(stripe_sessions.c.id == session_id)
        .values(status="credited", credited_at=time.time())
    )
    return "credited"
