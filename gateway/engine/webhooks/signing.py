"""Standard Webhooks signing, and the gateway's secret key that every signing secret derives from.

A webhook signing secret is ``whsec_`` + base64 of HMAC-SHA256(secret key, the row's random nonce):
the database holds only the nonce, so a stolen copy of it cannot forge deliveries, while every gateway
process that shares the secret key signs alike. A rotation draws a new nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["SecretKey", "new_nonce", "secret_hint", "signature_header"]


def new_nonce() -> str:
    return secrets.token_hex(16)


class SecretKey:
    """The gateway's secret key: derives webhook signing secrets and signs content links."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        self._key = key

    @classmethod
    def load(cls, configured: str | None, path: Path) -> SecretKey:
        """``configured`` (the operator's ``FRAMEGATE_SECRET_KEY``) or, without one, the key kept in
        ``path``, created (mode 0600) on first use."""
        if configured:
            return cls(configured.encode())
        try:
            return cls(path.read_bytes().strip())
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return cls(path.read_bytes().strip())
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return cls(key)

    def webhook_secret(self, nonce: str) -> str:
        """The ``whsec_...`` signing secret of the row whose nonce is ``nonce``."""
        raw = hmac.new(self._key, f"webhook:{nonce}".encode(), hashlib.sha256).digest()
        return "whsec_" + base64.b64encode(raw).decode()

    def mac(self, message: str) -> str:
        """A URL-safe MAC of ``message`` (content links)."""
        raw = hmac.new(self._key, f"link:{message}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def verify(self, message: str, mac: str) -> bool:
        return hmac.compare_digest(self.mac(message), mac)


def signature_header(secrets_: list[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` per secret,
    space-separated (during a rotation both the new and the old secret sign)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    parts = []
    for secret in secrets_:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        parts.append("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode())
    return " ".join(parts)


def secret_hint(secret: str) -> str:
    """A masked hint: enough to tell two secrets apart, never enough to use one."""
    return f"whsec_...{secret[-4:]}"
