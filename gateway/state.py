"""Everything the app builds at start-up, held on ``app.state.fg`` for the request handlers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters import Adapter
from billing import CreditPack, StripeConfig
from gateway.engine.artifacts import ArtifactStore
from gateway.engine.db import Database
from gateway.engine.keys import Principal
from gateway.metrics import Metrics
from gateway.ratelimit import RateLimiter
from gateway.settings import Settings
from router import Offer

if TYPE_CHECKING:
    from gateway.api.live import JobWatch
    from gateway.engine.events import EventBus
    from gateway.engine.fleet import Fleet
    from gateway.engine.jobs.service import JobService
    from gateway.engine.jobs.store import JobStore
    from gateway.engine.jobs.worker import WorkerPool
    from gateway.engine.links import VideoLinks
    from gateway.engine.outbound import AddressPolicy
    from gateway.engine.webhooks import SecretKey, WebhookDeliverer


@dataclass
class KeyCache:
    """Recently seen keys (by hash) for ``ttl`` seconds, each remembered with the revocation version it
    was looked up under: an entry counts only while that version is still current, so a key revoked
    by any process (the CLI, another gateway) is refused on the next request everywhere."""

    ttl: float = 60.0
    _entries: dict[str, tuple[Principal, float, int]] = field(default_factory=dict)

    def get(self, key_hash: str, version: int) -> Principal | None:
        hit = self._entries.get(key_hash)
        if hit is None or hit[1] < time.monotonic() or hit[2] != version:
            return None
        return hit[0]

    def put(self, key_hash: str, principal: Principal, version: int) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (principal, time.monotonic() + self.ttl, version)

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class AppState:
    """What the web layer serves from, built once in the app's lifespan (``gateway.app.build_state``)."""

    settings: Settings
    db: Database
    metrics: Metrics
    artifacts: ArtifactStore
    adapters: dict[str, Adapter]
    offers: list[Offer]
    jobs: JobStore
    service: JobService
    workers: WorkerPool | None
    keys: KeyCache
    fleet: Fleet
    events: EventBus
    stripe: StripeConfig
    packs: dict[str, CreditPack]
    secret_key: SecretKey
    outbound: AddressPolicy
    deliverer: WebhookDeliverer
    watch: JobWatch
    links: VideoLinks
    limiter: RateLimiter | None = None
    qc_slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(1))
