"""Buying credits: Checkout through the real ``stripe`` library (against a local fake of Stripe's API),
and signed webhooks that credit each session exactly once, whatever arrives and in whatever order."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import stripe

from ..fake_stripe import FakeStripe, fake_stripe
from ..support import Gateway, auth, make_settings, running_gateway

SECRET = "whsec_test_secret"
CONFIG = """
[[billing.packs]]
id = "starter"
credits = 1000
price_cents = 1000

[[billing.packs]]
id = "studio"
credits = 12000
price_cents = 10000
name = "Studio pack"
"""


@pytest.fixture
def stripe_api() -> Iterator[tuple[str, FakeStripe]]:
    with fake_stripe() as server:
        yield server


@pytest.fixture
async def bgw(
    tmp_path: Path, database_url: str, models_dir: Path, stripe_api: tuple[str, FakeStripe]
) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path,
        database_url,
        models_dir,
        config=CONFIG,
        stripe_secret_key="sk_test_123",
        stripe_webhook_secret=SECRET,
        stripe_api_base=stripe_api[0],
        public_url="https://studio.example",
    )
    async with running_gateway(settings) as gateway:
        yield gateway


def signed(payload: dict, secret: str = SECRET, timestamp: int | None = None) -> tuple[bytes, str]:
    body = json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)  # type: ignore[attr-defined]
    return body.encode(), header


def event(event_id: str, kind: str, session_id: str, paid: bool = True, **extra: object) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "payment_status": "paid" if paid else "unpaid",
                **extra,
            }
        },
    }


async def deliver(gw: Gateway, payload: dict, **kw: object) -> tuple[int, dict]:
    body, header = signed(payload, **kw)  # type: ignore[arg-type]
    response = await gw.client.post(
        "/v1/billing/stripe/webhook",
        content=body,
        headers={"stripe-signature": header, "content-type": "application/json"},
    )
    return response.status_code, response.json()


async def checkout(gw: Gateway, key: str, pack: str = "starter") -> str:
    response = await gw.client.post("/v1/billing/checkout", json={"pack": pack}, headers=auth(key))
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_checkout_creates_a_stripe_session(bgw: Gateway, stripe_api: tuple[str, FakeStripe]) -> None:
    key = bgw.new_key(credits=0)
    response = await bgw.client.post("/v1/billing/checkout", json={"pack": "studio"}, headers=auth(key))
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("cs_test_") and body["url"].startswith("https://checkout.stripe.test/")
    assert body["credits"] == 12000
    method, path, headers, form = stripe_api[1].requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert headers["Authorization"] == "Bearer sk_test_123"
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "10000"
    assert form["client_reference_id"].startswith("acct_") and form["metadata[pack]"] == "studio"
    assert form["success_url"].startswith("https://studio.example/")
    unknown = await bgw.client.post("/v1/billing/checkout", json={"pack": "gold"}, headers=auth(key))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_pack"


async def test_paid_session_is_credited_once(bgw: Gateway) -> None:
    key = bgw.new_key(credits=0)
    session = await checkout(bgw, key)
    status, body = await deliver(bgw, event("evt_1", "checkout.session.completed", session))
    assert status == 200 and body["outcome"] == "credited"
    assert bgw.balance(key).balance_mc == 1_000_000
    # The same event again, and a different event for the same session: nothing more.
    assert (await deliver(bgw, event("evt_1", "checkout.session.completed", session)))[1][
        "outcome"
    ] == "duplicate"
    again = await deliver(bgw, event("evt_2", "checkout.session.async_payment_succeeded", session))
    assert again[1]["outcome"] == "already_credited"
    assert bgw.balance(key).balance_mc == 1_000_000


async def test_async_payment_credits_on_success_only(bgw: Gateway) -> None:
    key = bgw.new_key(credits=0)
    session = await checkout(bgw, key)
    status, body = await deliver(bgw, event("evt_a", "checkout.session.completed", session, paid=False))
    assert status == 200
    assert body["outcome"] == "awaiting_payment" and bgw.balance(key).balance_mc == 0
    failed = await deliver(bgw, event("evt_b", "checkout.session.async_payment_failed", session))
    assert failed[1]["outcome"] == "ignored" and bgw.balance(key).balance_mc == 0
    ok = await deliver(bgw, event("evt_c", "checkout.session.async_payment_succeeded", session))
    assert ok[1]["outcome"] == "credited" and bgw.balance(key).balance_mc == 1_000_000


async def test_out_of_order_deliveries(bgw: Gateway) -> None:
    key = bgw.new_key(credits=0)
    session = await checkout(bgw, key)
    # The success arrives before the (unpaid) completion it follows.
    assert (await deliver(bgw, event("e2", "checkout.session.async_payment_succeeded", session)))[1][
        "outcome"
    ] == "credited"
    assert (await deliver(bgw, event("e1", "checkout.session.completed", session, paid=False)))[1][
        "outcome"
    ] == "awaiting_payment"
    assert bgw.balance(key).balance_mc == 1_000_000


async def test_credits_come_from_our_record_not_the_payload(bgw: Gateway) -> None:
    key = bgw.new_key(credits=0)
    session = await checkout(bgw, key)
    other = bgw.new_key(credits=0)
    forged = event(
        "evt_x",
        "checkout.session.completed",
        session,
        amount_total=99999999,
        metadata={"pack": "studio", "account_id": "someone-else"},
        client_reference_id="someone-else",
    )
    assert (await deliver(bgw, forged))[1]["outcome"] == "credited"
    assert bgw.balance(key).balance_mc == 1_000_000  # the starter pack, to the buyer
    assert bgw.balance(other).balance_mc == 0
    unknown = await deliver(bgw, event("evt_y", "checkout.session.completed", "cs_not_ours"))
    assert unknown[1]["outcome"] == "unknown_session"


@pytest.mark.parametrize("case", ["tampered", "wrong secret", "stale", "missing"])
async def test_bad_signatures_are_refused_and_write_nothing(bgw: Gateway, case: str) -> None:
    key = bgw.new_key(credits=0)
    session = await checkout(bgw, key)
    payload = event("evt_bad", "checkout.session.completed", session)
    if case == "tampered":
        body, header = signed(payload)
        body = body.replace(b"paid", b"PAID")
    elif case == "wrong secret":
        body, header = signed(payload, secret="whsec_other")
    elif case == "stale":
        body, header = signed(payload, timestamp=int(time.time()) - 3600)
    else:
        body, header = json.dumps(payload).encode(), ""
    headers = {"content-type": "application/json"} | ({"stripe-signature": header} if header else {})
    response = await bgw.client.post("/v1/billing/stripe/webhook", content=body, headers=headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert bgw.balance(key).balance_mc == 0
    # And the genuine event still works afterwards (nothing was recorded for the bad one).
    assert (await deliver(bgw, payload))[1]["outcome"] == "credited"


async def test_not_configured(tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir, config=CONFIG)
    async with running_gateway(settings) as gw:
        key = gw.new_key(credits=0)
        response = await gw.client.post("/v1/billing/checkout", json={"pack": "starter"}, headers=auth(key))
        assert response.status_code == 503 and response.json()["error"]["code"] == "billing_not_configured"
        body, header = signed(event("e", "checkout.session.completed", "cs_1"))
        hook = await gw.client.post(
            "/v1/billing/stripe/webhook", content=body, headers={"stripe-signature": header}
        )
        assert hook.status_code == 503


async def test_checkout_retry_with_idempotency_key(bgw: Gateway, stripe_api: tuple[str, FakeStripe]) -> None:
    key = bgw.new_key(credits=0)
    headers = auth(key) | {"Idempotency-Key": "buy-1"}
    first = await bgw.client.post("/v1/billing/checkout", json={"pack": "starter"}, headers=headers)
    again = await bgw.client.post("/v1/billing/checkout", json={"pack": "starter"}, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    assert len(stripe_api[1].requests) == 1
    sent = stripe_api[1].requests[0][2]["Idempotency-Key"]
    assert sent.startswith("framegate:acct_") and len(sent) <= 255
    # The longest key a client may send still fits Stripe's 255 characters once namespaced.
    longest = auth(key) | {"Idempotency-Key": "k" * 255}
    bought = await bgw.client.post("/v1/billing/checkout", json={"pack": "starter"}, headers=longest)
    assert bought.status_code == 200, bought.text


async def test_checkouts_racing_with_one_key_and_two_packs(
    bgw: Gateway, stripe_api: tuple[str, FakeStripe]
) -> None:
    """Both can reach Stripe before either is stored: Stripe refuses the second one's key (its
    parameters differ), which is the client's reused key, a 409, not a payment provider failure."""
    key = bgw.new_key(credits=0)
    headers = auth(key) | {"Idempotency-Key": "buy-twice"}
    answers = await asyncio.gather(
        *(
            bgw.client.post("/v1/billing/checkout", json={"pack": p}, headers=headers)
            for p in ("starter", "studio")
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["error"]["code"] == "idempotency_key_reused"
