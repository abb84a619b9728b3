"""Prometheus metrics on a per-app registry (no import-time globals), plus the timing middleware."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.engine.events import JobEvent

__all__ = ["Metrics", "MetricsMiddleware", "MetricsSink", "sample_loop_lag"]

_RUN_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1200)
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """All of the gateway's metrics. Labels never carry per-user values."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_duration = Histogram(
            "framegate_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route", "status"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.jobs_submitted = Counter(
            "framegate_jobs_submitted_total", "jobs accepted", ["model"], registry=r
        )
        self.jobs_finished = Counter(
            "framegate_jobs_finished_total",
            "jobs that ended (completed, failed, cancelled) or went back to the queue (requeued)",
            ["model", "outcome"],
            registry=r,
        )
        self.job_run_seconds = Histogram(
            "framegate_job_run_seconds",
            "generation time of completed jobs",
            ["model"],
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("framegate_queue_depth", "jobs waiting for a worker", registry=r)
        self.model_load_seconds = Histogram(
            "framegate_model_load_seconds",
            "time to load a pipeline",
            ["model"],
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.models_loaded = Counter("framegate_model_loads_total", "pipelines loaded", ["model"], registry=r)
        self.model_evictions = Counter(
            "framegate_model_evictions_total", "pipelines evicted to make room (LRU)", ["model"], registry=r
        )
        self.models_resident = Gauge(
            "framegate_models_resident", "pipelines held in memory", ["backend"], registry=r
        )
        self.device_memory = Gauge(
            "framegate_device_memory_bytes",
            "measured memory of the resident pipelines",
            ["backend"],
            registry=r,
        )
        self.credits_reserved = Counter(
            "framegate_credits_reserved_total", "credits held for new jobs", ["model"], registry=r
        )
        self.credits_captured = Counter(
            "framegate_credits_captured_total", "credits charged for finished jobs", ["model"], registry=r
        )
        self.credits_released = Counter(
            "framegate_credits_released_total",
            "credits returned from failed or cancelled jobs",
            ["model"],
            registry=r,
        )
        self.credits_purchased = Counter(
            "framegate_credits_purchased_total", "credits bought through Stripe", registry=r
        )
        self.usage_seconds = Counter(
            "framegate_usage_video_seconds_total", "seconds of video delivered", ["model"], registry=r
        )
        self.webhooks = Counter(
            "framegate_stripe_webhooks_total", "Stripe webhook deliveries by outcome", ["outcome"], registry=r
        )
        self._webhook_metrics(r)
        self.ledger_verified = Gauge(
            "framegate_ledger_verify_last_success_timestamp_seconds",
            "when the ledger last passed every invariant check",
            registry=r,
        )
        self.ledger_problems = Gauge(
            "framegate_ledger_verify_problems", "broken invariants at the last check", registry=r
        )

    def _webhook_metrics(self, r: CollectorRegistry) -> None:
        """Outgoing webhooks, and the event loop's lag (both about what waits on this process)."""
        self.loop_lag = Histogram(
            "framegate_event_loop_lag_seconds",
            "how late the event loop woke a 50 ms timer: a stall here delays every request in the process",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "framegate_webhook_deliveries_total",
            "outgoing webhook delivery attempts by outcome (delivered, retrying, failed)",
            ["outcome"],
            registry=r,
        )
        self.webhook_latency = Histogram(
            "framegate_webhook_delivery_seconds",
            "from a job's terminal state to the end of a delivery attempt",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=r,
        )
        self.webhook_outbox = Gauge(
            "framegate_webhook_outbox_depth", "webhook deliveries not yet delivered nor given up", registry=r
        )

    def track_queue_depth(self, read: Callable[[], int]) -> None:
        self.queue_depth.set_function(read)

    def track_outbox_depth(self, read: Callable[[], int]) -> None:
        self.webhook_outbox.set_function(read)

    def observe_webhook(self, outcome: str, seconds: float) -> None:
        self.webhook_deliveries.labels(outcome=outcome).inc()
        if outcome == "delivered":
            self.webhook_latency.observe(seconds)

    def track_residency(
        self, backend: str, resident: Callable[[], int], used_bytes: Callable[[], int]
    ) -> None:
        self.models_resident.labels(backend=backend).set_function(resident)
        self.device_memory.labels(backend=backend).set_function(used_bytes)


async def sample_loop_lag(metrics: Metrics, every: float = 0.05) -> None:
    """Forever: sleep ``every`` seconds and record how much later than asked the loop woke us."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(every)
        metrics.loop_lag.observe(max(0.0, loop.time() - asked - every))


class MetricsSink:
    """The job events' metrics sink: jobs submitted and finished, credits held, charged and returned,
    generation time and video delivered."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def handle(self, event: JobEvent) -> None:
        m, model = self.metrics, event.model
        if event.type == "video.submitted":
            m.jobs_submitted.labels(model=model).inc()
            m.credits_reserved.labels(model=model).inc(event.credits_mc / 1000)
        elif event.type == "video.completed":
            m.jobs_finished.labels(model=model, outcome="completed").inc()
            m.credits_captured.labels(model=model).inc(event.credits_mc / 1000)
            result = event.job.result or {}
            m.job_run_seconds.labels(model=model).observe(float(result.get("run_seconds", 0.0)))
            if result.get("fps"):
                m.usage_seconds.labels(model=model).inc(result["frames"] / result["fps"])
        elif event.type in ("video.failed", "video.cancelled", "video.requeued"):
            outcome = event.type.removeprefix("video.")
            m.jobs_finished.labels(model=model, outcome=outcome).inc()
            if event.credits_mc:
                m.credits_released.labels(model=model).inc(event.credits_mc / 1000)


class MetricsMiddleware:
    """Records request duration by route template (``/v1/videos/{video_id}``), never by raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.http_duration.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )
