"""Dashboard sign-in: an API key buys a server-side session; the browser holds only a random token in an
HTTP-only, SameSite=Lax cookie. Every form posts a per-session CSRF token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from gateway.engine.db import Database, api_keys, sessions
from gateway.engine.keys import Principal, lookup

__all__ = [
    "COOKIE",
    "LOGIN_COOKIE",
    "Session",
    "end_session",
    "find_session",
    "login_token_ok",
    "new_login_token",
    "start_session",
    "stash_reveal",
    "take_reveal",
]

COOKIE = "framegate_session"
LOGIN_COOKIE = "framegate_login"
TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and _same(token, self.csrf)


def _same(a: str, b: str) -> bool:
    """Constant-time equality for any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, api_key: str) -> str | None:
    """A new session token for a valid key, or None."""
    principal = lookup(db, api_key.strip())
    if principal is None:
        return None
    token = secrets.token_urlsafe(32)
    now = time.time()
    with db.write() as conn:
        conn.execute(delete(sessions).where(sessions.c.expires_at < now))
        conn.execute(
            insert(sessions).values(
                id_hash=_hash(token),
                key_id=principal.key_id,
                account_id=principal.account_id,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + TTL_SECONDS,
            )
        )
    return token


def find_session(db: Database, token: str | None) -> Session | None:
    if not token:
        return None
    with db.read() as conn:
        row = conn.execute(
            select(
                sessions.c.key_id,
                sessions.c.account_id,
                sessions.c.csrf,
                sessions.c.expires_at,
                api_keys.c.revoked_at,
            )
            .join(api_keys, api_keys.c.id == sessions.c.key_id)
            .where(sessions.c.id_hash == _hash(token))
        ).one_or_none()
    if row is None or row.expires_at < time.time() or row.revoked_at is not None:
        return None
    return Session(Principal(row.account_id, row.key_id), row.csrf)


REVEAL_SECONDS = 600


def _keystream(token: str, nonce: bytes, length: int) -> bytes:
    return hashlib.shake_256(b"framegate-reveal\0" + token.encode("utf-8", "surrogatepass") + nonce).digest(
        length
    )


def stash_reveal(db: Database, token: str | None, secret: str) -> None:
    """Keep a new key's secret with the session until the next keys page shows it (once), sealed with
    the session's cookie token: the database holds only that token's hash, so what it stores cannot
    be read back without the browser's cookie."""
    if not token:
        return
    plain = secret.encode()
    nonce = secrets.token_bytes(8)
    sealed = bytes(a ^ b for a, b in zip(plain, _keystream(token, nonce, len(plain)), strict=True))
    stored = f"{int(time.time())}.{nonce.hex()}.{base64.urlsafe_b64encode(sealed).decode()}"
    with db.write() as conn:
        conn.execute(update(sessions).where(sessions.c.id_hash == _hash(token)).values(reveal=stored))


def take_reveal(db: Database, token: str | None) -> str | None:
    """The secret stashed by :func:`stash_reveal`, cleared as it is read (a reload shows nothing);
    nothing once ``REVEAL_SECONDS`` have passed."""
    if not token:
        return None
    with db.write() as conn:
        stored = conn.execute(
            select(sessions.c.reveal).where(sessions.c.id_hash == _hash(token))
        ).scalar_one_or_none()
        if stored is None:
            return None
        conn.execute(update(sessions).where(sessions.c.id_hash == _hash(token)).values(reveal=None))
    try:
        made, nonce_hex, sealed_b64 = stored.split(".")
        if time.time() - int(made) > REVEAL_SECONDS:
            return None
        sealed = base64.urlsafe_b64decode(sealed_b64)
        nonce = bytes.fromhex(nonce_hex)
    except ValueError:
        return None
    plain = bytes(a ^ b for a, b in zip(sealed, _keystream(token, nonce, len(sealed)), strict=True))
    return plain.decode("utf-8", "replace")


def login_token_ok(cookie: str | None, posted: object) -> bool:
    """Sign-in CSRF (double submit): the form must carry the random token the sign-in page set as a
    cookie, which another site can neither read nor set."""
    return bool(cookie) and isinstance(posted, str) and _same(cookie or "", posted)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def end_session(db: Database, token: str | None) -> None:
    if token:
        with db.write() as conn:
            conn.execute(delete(sessions).where(sessions.c.id_hash == _hash(token)))
