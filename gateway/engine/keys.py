"""API keys: random, shown once, stored only as SHA-256 hashes; resolved to an account per request."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from gateway.engine.db import Database, api_keys, key_revocations
from gateway.engine.db.point import PointRead

__all__ = [
    "KEY_PREFIX",
    "KeyBudgets",
    "NewKey",
    "Principal",
    "create_key",
    "hash_key",
    "key_budgets",
    "key_owner",
    "list_keys",
    "lookup",
    "revocation_version",
    "revoke_key",
    "set_key_budgets",
]

KEY_PREFIX = "fg-"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account and the key used."""

    account_id: str
    key_id: str


@dataclass(frozen=True)
class NewKey:
    id: str
    secret: str
    prefix: str


def hash_key(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(conn: Connection, account_id: str, name: str | None = None) -> NewKey:
    """Create a key for ``account_id``; the secret is returned here and never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    prefix = secret[:10]
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            account_id=account_id,
            name=name,
            prefix=prefix,
            key_hash=hash_key(secret),
            created_at=time.time(),
        )
    )
    return NewKey(key_id, secret, prefix)


def list_keys(conn: Connection, account_id: str | None = None) -> list[dict[str, Any]]:
    query = select(
        api_keys.c.id,
        api_keys.c.account_id,
        api_keys.c.name,
        api_keys.c.prefix,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    ).order_by(api_keys.c.created_at)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def revoke_key(conn: Connection, key_id: str) -> bool:
    """Revoke a key. The revocation version moves in the same transaction, so every gateway process
    refuses the key on its next request (see :func:`revocation_version`)."""
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=time.time())
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        update(key_revocations).where(key_revocations.c.id == 1).values(version=key_revocations.c.version + 1)
    )
    return True


_REVOCATIONS = PointRead(select(key_revocations.c.version).where(key_revocations.c.id == 1))
_LIVE_KEY = PointRead(
    select(api_keys.c.id, api_keys.c.account_id).where(
        api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None)
    )
)


def revocation_version(db: Database) -> int:
    """How many revocations there have been: a cached key is trusted only while this is unchanged."""
    row = db.one(_REVOCATIONS)
    return int(row.version or 0) if row is not None else 0


def lookup(db: Database, secret: str) -> Principal | None:
    row = db.one(_LIVE_KEY, key_hash=hash_key(secret))
    return Principal(row.account_id, row.id) if row else None


@dataclass(frozen=True)
class KeyBudgets:
    """A key's spending caps in millicredits per UTC day and month (None: no cap)."""

    daily_mc: int | None
    monthly_mc: int | None


def key_budgets(conn: Connection, key_id: str) -> KeyBudgets | None:
    """``key_id``'s caps, or None if there is no such key."""
    row = conn.execute(
        select(api_keys.c.daily_budget_mc, api_keys.c.monthly_budget_mc).where(api_keys.c.id == key_id)
    ).one_or_none()
    return None if row is None else KeyBudgets(row.daily_budget_mc, row.monthly_budget_mc)


def set_key_budgets(conn: Connection, key_id: str, budgets: KeyBudgets) -> None:
    """Set ``key_id``'s caps (both: read them with :func:`key_budgets` to change one)."""
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(daily_budget_mc=budgets.daily_mc, monthly_budget_mc=budgets.monthly_mc)
    )


def key_owner(conn: Connection, key_id: str) -> str | None:
    """The account that owns ``key_id``, or None if there is no such key."""
    owner = conn.execute(select(api_keys.c.account_id).where(api_keys.c.id == key_id)).scalar_one_or_none()
    return None if owner is None else str(owner)
