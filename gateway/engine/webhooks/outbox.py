"""The webhook outbox: terminal job events written in the job's own transaction, one delivery per
target, claimed by any gateway process (``SKIP LOCKED`` on PostgreSQL), every attempt recorded."""

from __future__ import annotations

import collections
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from gateway.engine.db import (
    Database,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
    webhook_secrets,
)
from gateway.engine.errors import Conflict, NotFound
from gateway.engine.events import JobEvent
from gateway.engine.webhooks.endpoints import account_secret, signing_secrets
from gateway.engine.webhooks.signing import SecretKey

__all__ = [
    "Claimed",
    "WebhookOutbox",
    "claim",
    "envelope",
    "finish",
    "get_delivery",
    "list_deliveries",
    "outbox_depth",
    "publish",
    "resend",
]

# A job event -> the webhook event type it is published as (a cancel is a failure, code "cancelled").
PUBLISHED = {
    "video.completed": "video.completed",
    "video.failed": "video.failed",
    "video.cancelled": "video.failed",
}


def envelope(event_id: str, type_: str, data: dict[str, Any], created_at: float) -> str:
    """The body receivers get (``client.webhooks.unwrap`` parses it)."""
    body = {"id": event_id, "object": "event", "created_at": int(created_at), "type": type_, "data": data}
    return json.dumps(body, separators=(",", ":"), default=str)


def _delivery_id() -> str:
    return f"wdl_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


class WebhookOutbox:
    """The durable sink: turns a terminal job event into an event row and its deliveries, inside the
    transaction that ends the job. ``render`` is the API's video object of a job row."""

    def __init__(self, render: Callable[[Any], dict[str, Any]]) -> None:
        self.render = render

    def record(self, conn: Connection, event: JobEvent) -> None:
        type_ = PUBLISHED.get(event.type)
        if type_ is None:
            return
        job = event.job
        endpoints = subscribed(conn, event.account_id, type_)
        one_off = job.webhook_url
        if not endpoints and not one_off:
            return
        record_event(conn, event.id, event.account_id, type_, self.render(job), job.id, endpoints, one_off)


def subscribed(conn: Connection, account_id: str, type_: str) -> list[str]:
    """The ids of the account's endpoints that subscribe to ``type_``."""
    rows = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
            webhook_endpoints.c.account_id == account_id, webhook_endpoints.c.deleted_at.is_(None)
        )
    )
    return [row.id for row in rows if type_ in (row.event_types or [])]


def publish(conn: Connection, account_id: str, type_: str, data: dict[str, Any], subject_id: str) -> None:
    """Record an event that is not a job's (``project.cut.completed``) for the account's endpoints
    subscribed to it, inside the caller's transaction; its id is stable for the subject and type."""
    endpoints = subscribed(conn, account_id, type_)
    if endpoints:
        digest = hashlib.sha256(f"{subject_id}\0{type_}".encode()).hexdigest()[:24]
        record_event(conn, f"evt_{digest}", account_id, type_, data, subject_id, endpoints)


def record_event(
    conn: Connection,
    event_id: str,
    account_id: str,
    type_: str,
    data: dict[str, Any],
    subject_id: str | None,
    endpoint_ids: Sequence[str],
    url: str | None = None,
) -> list[str]:
    """Write the event and one pending delivery per endpoint (and to ``url``); their ids."""
    now = time.time()
    conn.execute(
        insert(webhook_events).values(
            id=event_id,
            account_id=account_id,
            type=type_,
            subject_id=subject_id,
            payload=envelope(event_id, type_, data, now),
            created_at=now,
        )
    )
    targets: list[dict[str, Any]] = [{"endpoint_id": e, "url": None} for e in endpoint_ids]
    if url:
        targets.append({"endpoint_id": None, "url": url})
    rows = [
        {
            "id": _delivery_id(),
            "event_id": event_id,
            "account_id": account_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            **target,
        }
        for target in targets
    ]
    conn.execute(insert(webhook_deliveries), rows)
    return [r["id"] for r in rows]


@dataclass(frozen=True)
class Claimed:
    """A delivery this process now owns until its lease lapses: what to send, where, signed how."""

    id: str
    event_id: str
    account_id: str
    attempt: int
    url: str
    payload: str
    secrets: list[str]
    created_at: float  # the event's: delivery latency counts from the job's terminal state


def claim(
    db: Database,
    keys: SecretKey,
    *,
    limit: int,
    lease_seconds: float,
    busy: Mapping[str, int] | None = None,
    per_account: int | None = None,
) -> list[Claimed]:
    """Take up to ``limit`` due deliveries (pending, or claimed by a sender whose lease lapsed),
    oldest first, at most ``per_account`` in flight per account counting ``busy`` (those the caller
    is already sending)."""
    now = time.time()
    d = webhook_deliveries
    due_filter = (d.c.status.in_(("pending", "delivering")), d.c.next_attempt_at <= now)
    # A plain read first: an idle outbox (the usual case) costs no write transaction, which on
    # SQLite would take the one writer's lock from the jobs ten times a second.
    with db.read() as conn:
        if conn.execute(select(d.c.id).where(*due_filter).limit(1)).first() is None:
            return []
    taken = collections.Counter(busy or {})
    with db.write() as conn:
        due = conn.execute(
            select(d.c.id, d.c.account_id)
            .where(*due_filter)
            .order_by(d.c.next_attempt_at)
            .limit(limit * 4 if per_account else limit)
            .with_for_update(skip_locked=True)
        ).all()
        ids: list[str] = []
        for row in due:
            if len(ids) == limit:
                break
            if per_account is None or taken[row.account_id] < per_account:
                taken[row.account_id] += 1
                ids.append(row.id)
        if not ids:
            return []
        conn.execute(
            update(d)
            .where(d.c.id.in_(ids))
            .values(status="delivering", attempts=d.c.attempts + 1, next_attempt_at=now + lease_seconds)
        )
        rows = conn.execute(
            select(d, webhook_events.c.payload, webhook_events.c.created_at.label("event_created_at"))
            .join(webhook_events, webhook_events.c.id == d.c.event_id)
            .where(d.c.id.in_(ids))
        ).all()
        return [_claimed(conn, keys, row, now) for row in rows]


def _claimed(conn: Connection, keys: SecretKey, row: Row[Any], now: float) -> Claimed:
    if row.endpoint_id is not None:
        target = conn.execute(
            select(webhook_endpoints).where(webhook_endpoints.c.id == row.endpoint_id)
        ).one()
        url = target.url  # an endpoint's deliveries follow its URL and secret as they are now
    else:
        target = conn.execute(
            select(webhook_secrets).where(webhook_secrets.c.account_id == row.account_id)
        ).one_or_none() or account_secret(conn, row.account_id)
        url = row.url
    return Claimed(
        row.id,
        row.event_id,
        row.account_id,
        row.attempts,
        url,
        row.payload,
        signing_secrets(keys, target, now),
        row.event_created_at,
    )


def finish(
    db: Database,
    claimed: Claimed,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
    schedule: Sequence[float],
) -> str:
    """Record the attempt; the delivery is delivered, due again after ``schedule[attempt-1]`` seconds,
    or failed when the schedule is spent. A sender whose claim was taken over records its attempt but
    changes nothing else. Returns the outcome."""
    now = time.time()
    ok = error is None and status_code is not None and 200 <= status_code < 300
    d = webhook_deliveries
    if ok:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now}
        outcome = "delivered"
    elif claimed.attempt <= len(schedule):
        values = {"status": "pending", "next_attempt_at": now + schedule[claimed.attempt - 1]}
        outcome = "retrying"
    else:
        values = {"status": "failed"}
        outcome = "failed"
    with db.write() as conn:
        earlier = conn.execute(
            select(func.count())
            .select_from(webhook_attempts)
            .where(webhook_attempts.c.delivery_id == claimed.id)
        ).scalar_one()
        conn.execute(
            insert(webhook_attempts).values(
                delivery_id=claimed.id,
                attempt=int(earlier) + 1,  # numbered across re-sends, which restart the schedule
                attempted_at=now,
                status_code=status_code,
                error=error,
                duration_ms=round(duration_ms, 3),
            )
        )
        conn.execute(
            update(d)
            .where(d.c.id == claimed.id, d.c.status == "delivering", d.c.attempts == claimed.attempt)
            .values(**values, last_status_code=status_code, last_error=error)
        )
    return outcome


def outbox_depth(db: Database) -> int:
    """Deliveries not yet delivered nor given up."""
    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.status.in_(("pending", "delivering")))
            ).scalar_one()
        )


def list_deliveries(
    conn: Connection,
    account_id: str,
    *,
    endpoint_id: str | None = None,
    video_id: str | None = None,
    after: str | None = None,
    limit: int = 20,
) -> tuple[list[Row[Any]], bool]:
    """The account's deliveries, newest first, with their event's type and video."""
    d = webhook_deliveries
    query = (
        select(d, webhook_events.c.type.label("event_type"), webhook_events.c.subject_id)
        .join(webhook_events, webhook_events.c.id == d.c.event_id)
        .where(d.c.account_id == account_id)
    )
    if endpoint_id is not None:
        query = query.where(d.c.endpoint_id == endpoint_id)
    if video_id is not None:
        query = query.where(webhook_events.c.subject_id == video_id)
    if after is not None:
        query = query.where(d.c.id < after)
    rows = list(conn.execute(query.order_by(d.c.id.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def get_delivery(conn: Connection, account_id: str, delivery_id: str) -> tuple[Row[Any], list[Row[Any]]]:
    """A delivery and every attempt at it, oldest first."""
    d = webhook_deliveries
    row = conn.execute(
        select(d, webhook_events.c.type.label("event_type"), webhook_events.c.subject_id)
        .join(webhook_events, webhook_events.c.id == d.c.event_id)
        .where(d.c.id == delivery_id, d.c.account_id == account_id)
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"no webhook delivery with id {delivery_id!r}",
            code="webhook_delivery_not_found",
            param="delivery_id",
        )
    attempts = list(
        conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id == delivery_id)
            .order_by(webhook_attempts.c.id)
        )
    )
    return row, attempts


def resend(conn: Connection, account_id: str, delivery_id: str) -> None:
    """Send a delivered or failed delivery again, now, with a fresh retry schedule (same webhook-id)."""
    row, _ = get_delivery(conn, account_id, delivery_id)
    if row.status in ("pending", "delivering"):
        raise Conflict(
            f"delivery {delivery_id} is already {row.status}",
            code="delivery_in_progress",
            param="delivery_id",
        )
    if row.endpoint_id is not None:
        endpoint = conn.execute(
            select(webhook_endpoints.c.deleted_at).where(webhook_endpoints.c.id == row.endpoint_id)
        ).one()
        if endpoint.deleted_at is not None:
            raise Conflict("its endpoint was deleted", code="webhook_endpoint_deleted", param="delivery_id")
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=time.time(),
            delivered_at=None,
            last_status_code=None,
            last_error=None,
        )
    )
