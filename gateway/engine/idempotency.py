"""``Idempotency-Key``: the same key and body replay the first response for 24 hours; the same key with
another body is a 409. The key is stored in the same transaction as what it creates, so a retry after
a timeout can never create a second job or charge twice."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.engine.db import idempotency_keys
from gateway.engine.errors import Conflict, InvalidRequest

__all__ = [
    "IdempotentRequest",
    "Replay",
    "check_key",
    "expire",
    "find",
    "from_request",
    "remember",
    "replay_race",
    "request_hash",
    "run",
]

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotentRequest:
    account_id: str
    key: str
    route: str
    request_hash: str


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def request_hash(fields: dict[str, Any]) -> str:
    """A hash of the request's meaning (not its bytes: multipart boundaries differ between retries)."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            code="invalid_idempotency_key",
            param="Idempotency-Key",
        )
    return key


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def find(
    conn: Connection, req: IdempotentRequest, *, now: float | None = None, forget: bool = True
) -> Replay | None:
    """The stored response for this key, or None; 409 if the key was used for a different request.

    ``now``: the current time (default: the clock); a key stored more than the replay window
    before it is None, and deleted with ``forget`` (in a write transaction, before the key is
    stored again). Read scopes pass ``forget=False``: on PostgreSQL they autocommit, and on SQLite
    a read transaction cannot write once another writer has committed."""
    row = conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.account_id == req.account_id, idempotency_keys.c.key == req.key
        )
    ).one_or_none()
    if row is None:
        return None
    cutoff = _now(now) - TTL_SECONDS
    if row.created_at < cutoff:
        if not forget:
            return None
        # Only the expired row, should the key have been stored afresh since the read above.
        conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.account_id == req.account_id,
                idempotency_keys.c.key == req.key,
                idempotency_keys.c.created_at < cutoff,
            )
        )
        return None
    if row.route != req.route or row.request_hash != req.request_hash:
        raise Conflict(
            "this Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
            param="Idempotency-Key",
        )
    return Replay(row.status_code, row.response)


def remember(
    conn: Connection,
    req: IdempotentRequest,
    status_code: int,
    body: dict[str, Any],
    *,
    now: float | None = None,
) -> None:
    """Store the response for ``req``'s key, as of ``now`` (default: the clock)."""
    conn.execute(
        insert(idempotency_keys).values(
            account_id=req.account_id,
            key=req.key,
            route=req.route,
            request_hash=req.request_hash,
            status_code=status_code,
            response=body,
            created_at=_now(now),
        )
    )


def from_request(
    headers: Any, account_id: str, route: str, fields: dict[str, Any]
) -> IdempotentRequest | None:
    """The idempotency context of a request, if it sent an ``Idempotency-Key`` header."""
    key = headers.get("idempotency-key")
    if key is None:
        return None
    return IdempotentRequest(account_id, check_key(key), route, request_hash(fields))


def run(db: Any, req: IdempotentRequest | None, create: Any) -> tuple[dict[str, Any], bool]:
    """Call ``create(conn)`` in a write transaction, unless ``req``'s key already has a response.

    Returns (response body, replayed). The stored response commits with whatever ``create`` wrote.
    """
    if req is not None:
        with db.read() as conn:
            if (replay := find(conn, req, forget=False)) is not None:
                return replay.body, True
    try:
        with db.write() as conn:
            if req is not None and (replay := find(conn, req)) is not None:
                return replay.body, True
            body = create(conn)
            if req is not None:
                remember(conn, req, 200, body)
    except IntegrityError as exc:
        return replay_race(db, req, exc).body, True
    return body, False


def replay_race(db: Any, req: IdempotentRequest | None, error: IntegrityError) -> Replay:
    """After a write transaction failed on a unique constraint: the response of the request with the
    same key that committed first (on PostgreSQL two such requests can both find no key, and the
    second one's insert of it fails). Raises ``error`` when that is not what happened."""
    if req is not None:
        with db.read() as conn:
            replay = find(conn, req, forget=False)
        if replay is not None:
            return replay
    raise error


def expire(conn: Connection, *, now: float | None = None) -> int:
    """Forget keys older than the replay window, as of ``now`` (default: the clock)."""
    result = conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_at < _now(now) - TTL_SECONDS)
    )
    return int(result.rowcount or 0)
