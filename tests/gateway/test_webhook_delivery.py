"""The outbox and its delivery worker: nothing lost across a crash, nothing sent twice by two senders."""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

import billing
from gateway.engine.db import Database, upgrade, webhook_attempts, webhook_deliveries
from gateway.engine.outbound import AddressPolicy
from gateway.engine.webhooks import DeliveryConfig, SecretKey, WebhookDeliverer
from gateway.engine.webhooks.endpoints import create_endpoint
from gateway.engine.webhooks.outbox import claim, record_event

from ..receiver import receiver

LOOPBACK = AddressPolicy.of(True, ["127.0.0.0/8"])


def _events(db: Database, keys: SecretKey, url: str, count: int) -> str:
    with db.write() as conn:
        account = billing.ensure_account(conn, "acct-hooks")
        endpoint = create_endpoint(conn, keys, account, name="e", url=url, event_types=["video.completed"])
        for i in range(count):
            record_event(
                conn, f"evt_{i:024d}", account, "video.completed", {"id": f"v{i}"}, None, [endpoint.row.id]
            )
    return endpoint.row.id


async def _settled(db: Database, status: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with db.read() as conn:
            row = conn.execute(select(webhook_deliveries)).one()
        if row.status == status:
            return row
        assert time.monotonic() < deadline, row
        await asyncio.sleep(0.05)


def _count(db: Database, table: object, *where: object) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


async def test_two_senders_never_send_one_attempt_twice(database_url: str, tmp_path: Path) -> None:
    keys = SecretKey(b"k" * 32)
    first, second = Database(database_url), Database(database_url)
    upgrade(first)
    config = DeliveryConfig(policy=LOOPBACK, timeout_seconds=5, concurrency=8, poll_seconds=0.05)
    with receiver() as rec:
        _events(first, keys, rec.url, 120)
        senders = [WebhookDeliverer(db, keys, config) for db in (first, second)]
        for sender in senders:
            await sender.start()
        try:
            deadline = time.monotonic() + 60
            while _count(first, webhook_deliveries, webhook_deliveries.c.status == "delivered") < 120:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        finally:
            for sender in senders:
                await sender.stop()
        seen = collections.Counter(p.headers["webhook-id"] for p in rec.posts())
    assert len(seen) == 120 and set(seen.values()) == {1}
    assert _count(first, webhook_attempts) == 120
    first.dispose()
    second.dispose()


async def test_a_delivery_claimed_by_a_sender_that_died_is_sent_after_its_claim_lapses(
    database_url: str, tmp_path: Path
) -> None:
    keys = SecretKey(b"k" * 32)
    db = Database(database_url)
    upgrade(db)
    with receiver() as rec:
        _events(db, keys, rec.url, 3)
        # A sender claims everything, then its process dies before sending anything.
        assert len(claim(db, keys, limit=10, lease_seconds=0.5)) == 3
        config = DeliveryConfig(policy=LOOPBACK, timeout_seconds=5, poll_seconds=0.05)
        sender = WebhookDeliverer(db, keys, config)
        await sender.start()
        try:
            await asyncio.sleep(0.2)
            assert rec.posts() == []  # the dead sender's claim still holds
            await asyncio.to_thread(rec.wait_for, 3, 10)
        finally:
            await sender.stop()
        assert len({p.headers["webhook-id"] for p in rec.posts()}) == 3
    with db.read() as conn:
        attempts = conn.execute(select(webhook_deliveries.c.attempts)).scalars().all()
    assert attempts == [2, 2, 2]  # the lost claim counts as an attempt
    db.dispose()


async def test_an_unreachable_receiver_is_retried_on_schedule_then_given_up(database_url: str) -> None:
    keys = SecretKey(b"k" * 32)
    db = Database(database_url)
    upgrade(db)
    _events(db, keys, "http://127.0.0.1:9/nothing-listens", 1)
    config = DeliveryConfig(policy=LOOPBACK, timeout_seconds=1, poll_seconds=0.05, schedule=(0.05, 0.05))
    sender = WebhookDeliverer(db, keys, config)
    await sender.start()
    try:
        row = await _settled(db, "failed")
    finally:
        await sender.stop()
    assert row.attempts == 3 and "Connect" in row.last_error
    assert _count(db, webhook_attempts) == 3
    with db.write() as conn:  # and it stays given up
        conn.execute(update(webhook_deliveries).values(next_attempt_at=0))
    assert claim(db, keys, limit=10, lease_seconds=5) == []
    db.dispose()


async def test_a_private_address_is_refused_at_connect_time(database_url: str) -> None:
    """An endpoint accepted while its name was public is not sent to once it resolves privately."""
    keys = SecretKey(b"k" * 32)
    db = Database(database_url)
    upgrade(db)
    with receiver() as rec:
        _events(db, keys, rec.url, 1)
        config = DeliveryConfig(policy=AddressPolicy(allow_http=True), poll_seconds=0.05, schedule=(0.05,))
        sender = WebhookDeliverer(db, keys, config)
        await sender.start()
        try:
            row = await _settled(db, "failed")
        finally:
            await sender.stop()
        assert rec.posts() == []
    assert "refused address" in row.last_error
    db.dispose()


async def test_a_slow_receiver_times_out_and_cannot_starve_other_accounts(database_url: str) -> None:
    keys = SecretKey(b"k" * 32)
    db = Database(database_url)
    upgrade(db)
    with receiver() as rec:
        rec.hang_seconds, rec.hang_paths = 30, ("/slow",)
        _events(db, keys, f"{rec.url}/slow", 6)  # one account's endpoint never answers in time
        with db.write() as conn:
            other = billing.ensure_account(conn, "acct-other")
            endpoint = create_endpoint(
                conn, keys, other, name="e", url=f"{rec.url}/fast", event_types=["video.completed"]
            )
            record_event(conn, "evt_other", other, "video.completed", {"id": "v"}, None, [endpoint.row.id])
        config = DeliveryConfig(
            policy=LOOPBACK, timeout_seconds=1, concurrency=4, poll_seconds=0.05, schedule=(60,)
        )
        sender = WebhookDeliverer(db, keys, config)
        started = time.monotonic()
        await sender.start()
        try:
            while not any(p.path == "/fast" for p in rec.posts()):
                assert time.monotonic() - started < 5, (
                    "the other account's delivery waited behind the slow one"
                )
                await asyncio.sleep(0.02)
            deadline = time.monotonic() + 10
            while _count(db, webhook_attempts) < 7:  # six slow ones, one at a time, and the fast one
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        finally:
            await sender.stop()
    with db.read() as conn:
        slow = conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.account_id != other)).all()
    assert {(r.status, r.attempts) for r in slow} == {("pending", 1)}  # each tried once, then scheduled
    assert all(r.last_error == "no answer within 1 s" for r in slow)
    db.dispose()
