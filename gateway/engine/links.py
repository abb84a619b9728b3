"""Signed, expiring content links (a ``<video src>`` or a CDN fetches a clip with no API key) and
the retention rule (when a completed video's clips are deleted)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from gateway.engine.errors import Forbidden
from gateway.engine.webhooks.signing import SecretKey

__all__ = ["VideoLinks"]

BUCKET_SECONDS = 300  # links expire on 5-minute boundaries, so a video's ETag changes at most that often


@dataclass(frozen=True)
class VideoLinks:
    keys: SecretKey
    base_url: str
    ttl_seconds: int
    retention_seconds: float | None = None

    def url(self, video_id: str, variant: str = "video", now: float | None = None) -> str:
        """A link to the clip, valid for ``ttl_seconds`` (to the next 5-minute boundary past it)."""
        now = time.time() if now is None else now
        expires = math.ceil((now + self.ttl_seconds) / BUCKET_SECONDS) * BUCKET_SECONDS
        query = {"variant": variant, "expires": expires, "signature": self._mac(video_id, variant, expires)}
        return f"{self.base_url}/v1/videos/{video_id}/content/signed?{urlencode(query)}"

    def check(
        self, video_id: str, variant: str, expires: int, signature: str, now: float | None = None
    ) -> None:
        """Raises ``Forbidden`` (``invalid_signature`` / ``link_expired``) unless the link is good."""
        if not self.keys.verify(_message(video_id, variant, expires), signature):
            raise Forbidden(
                "the link's signature does not match", code="invalid_signature", param="signature"
            )
        if expires < (time.time() if now is None else now):
            raise Forbidden(
                "the link has expired; ask the API for a fresh one", code="link_expired", param="expires"
            )

    def expires_at(self, completed_at: float | None) -> int | None:
        """When a video completed at ``completed_at`` loses its clips (None: kept)."""
        if completed_at is None or self.retention_seconds is None:
            return None
        return int(completed_at + self.retention_seconds)

    def _mac(self, video_id: str, variant: str, expires: int) -> str:
        return self.keys.mac(_message(video_id, variant, expires))


def _message(video_id: str, variant: str, expires: int) -> str:
    return f"{video_id}:{variant}:{expires}"
