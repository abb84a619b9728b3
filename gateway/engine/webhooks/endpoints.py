"""Webhook endpoints per account (the SDK's ``client.webhooks``), and each account's secret for the
one-off ``webhook_url`` targets of single creates."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from gateway.engine.db import webhook_deliveries, webhook_endpoints, webhook_secrets
from gateway.engine.errors import InvalidRequest, NotFound
from gateway.engine.webhooks.signing import SecretKey, new_nonce, secret_hint

__all__ = [
    "EVENT_TYPES",
    "Endpoint",
    "account_secret",
    "check_event_types",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_endpoints",
    "rotate_account_secret",
    "rotate_endpoint",
    "signing_secrets",
    "update_endpoint",
]

# What an endpoint can subscribe to. A cancel is a failure whose error.code is "cancelled", as the
# API reports it; project.cut.completed is sent when a project's cut is assembled.
EVENT_TYPES: tuple[str, ...] = ("video.completed", "video.failed", "project.cut.completed")
ROTATION_GRACE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as the API shows it; ``signing_secret`` only right after creation or rotation."""

    row: Row[Any]
    signing_secret: str | None = None


def check_event_types(values: list[str]) -> list[str]:
    """Known and non-empty, each once (order kept)."""
    if not values:
        raise InvalidRequest("event_types must name at least one event type", param="event_types")
    unknown = [v for v in values if v not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"unknown event type {unknown[0]!r}; Framegate sends {', '.join(EVENT_TYPES)}",
            code="unsupported_event_type",
            param="event_types",
        )
    return list(dict.fromkeys(values))


def _not_found(endpoint_id: str) -> NotFound:
    return NotFound(
        f"no webhook endpoint with id {endpoint_id!r}",
        code="webhook_endpoint_not_found",
        param="webhook_endpoint_id",
    )


def create_endpoint(
    conn: Connection, keys: SecretKey, account_id: str, *, name: str, url: str, event_types: list[str]
) -> Endpoint:
    now = time.time()
    nonce = new_nonce()
    row = conn.execute(
        insert(webhook_endpoints)
        .values(
            id=f"whep_{int(now * 1000):012x}{secrets.token_hex(6)}",
            account_id=account_id,
            name=name,
            url=url,
            event_types=check_event_types(event_types),
            nonce=nonce,
            created_at=now,
            updated_at=now,
        )
        .returning(*webhook_endpoints.c)
    ).one()
    return Endpoint(row, keys.webhook_secret(nonce))


def get_endpoint(conn: Connection, account_id: str, endpoint_id: str) -> Row[Any]:
    row = conn.execute(
        select(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id,
            webhook_endpoints.c.account_id == account_id,
            webhook_endpoints.c.deleted_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        raise _not_found(endpoint_id)
    return row


def list_endpoints(
    conn: Connection, account_id: str, *, after: str | None, limit: int
) -> tuple[list[Row[Any]], bool]:
    """Newest first."""
    query = select(webhook_endpoints).where(
        webhook_endpoints.c.account_id == account_id, webhook_endpoints.c.deleted_at.is_(None)
    )
    if after is not None:
        query = query.where(webhook_endpoints.c.id < after)
    rows = list(conn.execute(query.order_by(webhook_endpoints.c.id.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def update_endpoint(conn: Connection, account_id: str, endpoint_id: str, changes: dict[str, Any]) -> Row[Any]:
    """Apply ``changes`` (name, url, event_types); ``updated_at`` moves only if something changed."""
    row = get_endpoint(conn, account_id, endpoint_id)
    if "event_types" in changes:
        changes["event_types"] = check_event_types(changes["event_types"])
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if not changed:
        return row
    return conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(**changed, updated_at=time.time())
        .returning(*webhook_endpoints.c)
    ).one()


def delete_endpoint(conn: Connection, account_id: str, endpoint_id: str) -> None:
    """Delete it; deliveries still due to it are given up (its history stays listable)."""
    get_endpoint(conn, account_id, endpoint_id)
    now = time.time()
    conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(deleted_at=now)
    )
    conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status.in_(("pending", "delivering")),
        )
        .values(status="failed", last_error="the endpoint was deleted")
    )


def rotate_endpoint(
    conn: Connection, keys: SecretKey, account_id: str, endpoint_id: str, *, keep_old: bool
) -> Endpoint:
    """A new signing secret; with ``keep_old`` the previous one also signs for 24 hours."""
    row = get_endpoint(conn, account_id, endpoint_id)
    now = time.time()
    nonce = new_nonce()
    values = _rotation(row, nonce, now, keep_old)
    row = conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(**values)
        .returning(*webhook_endpoints.c)
    ).one()
    return Endpoint(row, keys.webhook_secret(nonce))


def _rotation(row: Row[Any], nonce: str, now: float, keep_old: bool) -> dict[str, Any]:
    return {
        "nonce": nonce,
        "previous_nonce": row.nonce if keep_old else None,
        "previous_until": now + ROTATION_GRACE_SECONDS if keep_old else None,
        "updated_at": now,
    }


def signing_secrets(keys: SecretKey, row: Any, now: float) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous during its grace."""
    found = [keys.webhook_secret(row.nonce)]
    if row.previous_nonce and (row.previous_until or 0) > now:
        found.append(keys.webhook_secret(row.previous_nonce))
    return found


def account_secret(conn: Connection, account_id: str) -> Row[Any]:
    """The account's secret for one-off ``webhook_url`` targets, created on first use."""
    row = conn.execute(
        select(webhook_secrets).where(webhook_secrets.c.account_id == account_id)
    ).one_or_none()
    if row is not None:
        return row
    now = time.time()
    values = {"account_id": account_id, "nonce": new_nonce(), "created_at": now, "updated_at": now}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(webhook_secrets).values(**values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(webhook_secrets).values(**values).on_conflict_do_nothing())
    return conn.execute(select(webhook_secrets).where(webhook_secrets.c.account_id == account_id)).one()


def rotate_account_secret(conn: Connection, account_id: str, *, keep_old: bool) -> Row[Any]:
    row = account_secret(conn, account_id)
    return conn.execute(
        update(webhook_secrets)
        .where(webhook_secrets.c.account_id == account_id)
        .values(**_rotation(row, new_nonce(), time.time(), keep_old))
        .returning(*webhook_secrets.c)
    ).one()


def hint_of(keys: SecretKey, row: Any) -> str:
    return secret_hint(keys.webhook_secret(row.nonce))
