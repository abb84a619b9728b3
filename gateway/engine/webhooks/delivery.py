"""The delivery worker: any gateway process runs one. It claims due deliveries from the outbox, POSTs
each, signed, with a timeout and bounded concurrency, and records the outcome; the retry schedule is
``DeliveryConfig.schedule``. A process killed mid-delivery leaves a claim that lapses, and the
delivery is sent again (same ``webhook-id``) by whichever process claims it next."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from anyio import to_thread

from gateway.engine.db import Database
from gateway.engine.events import JobEvent
from gateway.engine.outbound import AddressPolicy, guarded_client
from gateway.engine.webhooks.outbox import PUBLISHED, Claimed, claim, finish
from gateway.engine.webhooks.signing import SecretKey, signature_header

__all__ = ["DEFAULT_SCHEDULE", "DeliveryConfig", "WebhookDeliverer", "post_signed"]

log = logging.getLogger("framegate.webhooks")
STOP_SECONDS = 5.0  # how long stop() waits for cancelled sends and the HTTP client to close

# Seconds to wait after each failed attempt: 8 attempts over about 24.4 hours.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 24000)


@dataclass(frozen=True)
class DeliveryConfig:
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    timeout_seconds: float = 10.0
    concurrency: int = 8
    poll_seconds: float = 1.0
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE

    @property
    def per_account(self) -> int:
        """Sends in flight for one account at most (per process): one account's slow receivers
        cannot take every slot."""
        return max(1, self.concurrency // 4)

    @property
    def lease_seconds(self) -> float:
        """How long a claim lasts: past it, a sender is presumed dead and the delivery is due again."""
        return self.timeout_seconds * 2 + 5


Observer = Callable[[str, float], None]  # (outcome, seconds from the event to this attempt's end)


async def _cancelled(task: asyncio.Task[None], seconds: float = STOP_SECONDS) -> None:
    """Cancel ``task`` until it ends, for at most ``seconds``. A cancel that lands while the task waits
    on a worker thread (anyio shields that wait) can be absorbed, and the loop goes on polling: a
    single cancel and an unbounded wait hung shutdowns on PostgreSQL, whose reads take that path."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not task.done() and loop.time() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=0.2)


class WebhookDeliverer:
    """Sends the outbox. ``handle`` (an event sink) wakes it when a job ends in this process."""

    def __init__(
        self, db: Database, keys: SecretKey, config: DeliveryConfig, observe: Observer | None = None
    ) -> None:
        self.db = db
        self.keys = keys
        self.config = config
        self.observe = observe or (lambda outcome, seconds: None)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._busy: collections.Counter[str] = collections.Counter()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._client = guarded_client(
            self.config.policy, timeout=self.config.timeout_seconds, max_connections=self.config.concurrency
        )
        self._task = asyncio.create_task(self._run(), name="webhook-deliverer")

    async def stop(self) -> None:
        sending = list(self._sending)
        for task in sending:
            task.cancel()  # its claim lapses and another round sends it again
        if self._task is not None:
            await _cancelled(self._task)
        # Bounded: a send cancelled mid-request must not hold the connection pool's close for ever
        # (a test once waited on it with an idle loop).
        if sending:
            await asyncio.wait(sending, timeout=STOP_SECONDS)
        if self._client is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._client.aclose(), STOP_SECONDS)

    def handle(self, event: JobEvent) -> None:
        if event.type in PUBLISHED:
            self.wake()

    def wake(self) -> None:
        """Look at the outbox now (callable from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        # Sends run as their own tasks, at most ``concurrency`` at once: a slow receiver holds one
        # slot until its timeout, never the others.
        assert self._wake is not None
        while True:
            free = self.config.concurrency - len(self._sending)
            claimed = 0
            if free > 0:
                try:
                    batch = await to_thread.run_sync(self._claim, free)
                except Exception:
                    log.warning("claiming webhook deliveries failed", exc_info=True)
                    batch = []
                for item in batch:
                    self._busy[item.account_id] += 1
                    task = asyncio.create_task(self._counted(item))
                    self._sending.add(task)
                    task.add_done_callback(self._sent)
                claimed = len(batch)
            if claimed and claimed == free:
                await self._wait()  # all slots busy: a finished send wakes us
            elif not claimed:
                await self._wait()

    async def _wait(self) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
        self._wake.clear()

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if self._wake is not None:
            self._wake.set()

    async def _counted(self, claimed: Claimed) -> None:
        """Send, counting the account's sends in flight (``per_account``) until this one ends."""
        try:
            await self._send(claimed)
        finally:
            self._busy[claimed.account_id] -= 1
            if self._busy[claimed.account_id] <= 0:
                del self._busy[claimed.account_id]

    def _claim(self, limit: int) -> list[Claimed]:
        return claim(
            self.db,
            self.keys,
            limit=limit,
            lease_seconds=self.config.lease_seconds,
            busy=dict(self._busy),
            per_account=self.config.per_account,
        )

    async def _send(self, claimed: Claimed) -> None:
        assert self._client is not None
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            status = await post_signed(
                self._client,
                claimed.url,
                claimed.event_id,
                claimed.payload.encode(),
                claimed.secrets,
                timeout=self.config.timeout_seconds,
            )
            if not 200 <= status < 300:
                error = f"the receiver answered {status}"
        except TimeoutError:
            error = f"no answer within {self.config.timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        duration = (time.perf_counter() - started) * 1000
        outcome = await to_thread.run_sync(
            lambda: finish(
                self.db,
                claimed,
                status_code=status,
                error=error,
                duration_ms=duration,
                schedule=self.config.schedule,
            )
        )
        self.observe(outcome, max(0.0, time.time() - claimed.created_at))
        if outcome != "delivered":
            log.info("webhook %s to %s: %s (%s)", claimed.event_id, claimed.url, outcome, error)


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    event_id: str,
    body: bytes,
    secrets: list[str],
    *,
    timeout: float,
) -> int:
    """POST ``body`` signed (Standard Webhooks, timestamped now) and return the status code; the
    response body is never read. One deadline covers the whole exchange (``TimeoutError``): a
    receiver that trickles its answer byte by byte never trips httpx's per-read timeout, and must
    not outlive a delivery's claim."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, event_id, timestamp, body),
    }
    async with (
        asyncio.timeout(timeout),
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        return response.status_code
