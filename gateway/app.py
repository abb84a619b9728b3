"""``create_app(settings)``: the FastAPI app. All state is built in the lifespan, none at import."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from anyio import to_thread
from fastapi import Depends, FastAPI

import billing
from adapters import Adapter, LocalAdapter
from billing import CreditPack, StripeConfig, millicredits
from gateway.api import (
    account,
    billing_routes,
    creative,
    derived,
    health,
    live,
    models,
    projects,
    prompt_help,
    provider_hooks,
    quotes,
    routing,
    shots,
    videos,
    webhooks,
)
from gateway.api.contract import install_contract
from gateway.api.deps import known_query_only
from gateway.api.live import JobWatch
from gateway.api.schemas import routing_preferences, video_object
from gateway.backends import build_backends
from gateway.config import load_config
from gateway.dashboard import install_dashboard
from gateway.engine import idempotency
from gateway.engine.artifacts import ArtifactStore, LocalDiskStore
from gateway.engine.db import Database, upgrade
from gateway.engine.events import EventBus
from gateway.engine.fleet import Fleet
from gateway.engine.jobs.attempts import RetryPolicy
from gateway.engine.jobs.service import JobService
from gateway.engine.jobs.store import JobStore
from gateway.engine.jobs.worker import WorkerConfig, WorkerPool
from gateway.engine.links import VideoLinks
from gateway.engine.outbound import AddressPolicy
from gateway.engine.webhooks import DeliveryConfig, SecretKey, WebhookDeliverer, WebhookOutbox
from gateway.engine.webhooks.outbox import outbox_depth
from gateway.errors import install_error_handlers
from gateway.metrics import Metrics, MetricsMiddleware, MetricsSink, sample_loop_lag
from gateway.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware, UrlGuardMiddleware
from gateway.ratelimit import make_limiter
from gateway.settings import Settings
from gateway.state import AppState, KeyCache

__all__ = ["build_backends", "build_state", "create_app"]  # build_backends: from gateway.backends

log = logging.getLogger("framegate")


async def _maintain_forever(state: AppState, every_seconds: float = 1.0) -> None:
    """Background upkeep: SQLite WAL checkpoints (each second), expiring idempotency keys and voiding
    orphaned reserves (each minute), and a full ledger check every ``ledger_verify_seconds``."""
    ticks = 0
    verify_every = (
        max(1, int(state.settings.ledger_verify_seconds)) if state.settings.ledger_verify_seconds else 0
    )
    while True:
        await asyncio.sleep(every_seconds)
        ticks += 1
        try:
            if state.db.is_sqlite:
                await to_thread.run_sync(state.db.checkpoint)
            if ticks % 60 == 0:
                await to_thread.run_sync(_expire_and_sweep, state)
            if verify_every and ticks % verify_every == 0:
                await to_thread.run_sync(verify_into_metrics, state)
        except Exception:
            log.warning("maintenance failed", exc_info=True)


def _expire_and_sweep(state: AppState) -> None:
    with state.db.write() as conn:
        idempotency.expire(conn)
    if state.links.retention_seconds is not None:
        expired = state.jobs.expire(before=time.time() - state.links.retention_seconds)
        for job_id in expired:
            state.artifacts.delete(job_id)
        if expired:
            log.info("retention: deleted the clips of %d videos", len(expired))
    for held in state.jobs.void_orphaned_reserves():
        state.metrics.credits_released.labels(model=held.model or "?").inc(held.amount_mc / 1000)
        log.warning("voided the reserve of %s: its job had already ended", held.job_id)


def verify_into_metrics(state: AppState) -> list[str]:
    """Check the ledger; record the outcome in the metrics."""
    with state.db.snapshot() as conn:
        problems = billing.verify_ledger(conn)
    state.metrics.ledger_problems.set(len(problems))
    if problems:
        log.error("ledger verification failed: %s", "; ".join(problems[:5]))
    else:
        state.metrics.ledger_verified.set_to_current_time()
    return problems


def _artifact_store(settings: Settings, db: Database) -> ArtifactStore:
    if settings.artifacts_url:
        from gateway.engine.artifacts_s3 import S3Store

        return S3Store(settings.artifacts_url, settings.artifacts_dir, endpoint_url=settings.s3_endpoint_url)
    if not db.url.startswith("sqlite"):
        # A shared database means other gateway processes may finish jobs: they can serve
        # each other's clips only if this directory is shared too (or artifacts are in S3).
        log.warning(
            "artifacts are on local disk (%s) with a shared database: share that directory "
            "between gateway processes or set FRAMEGATE_ARTIFACTS_URL",
            settings.artifacts_dir,
        )
    return LocalDiskStore(settings.artifacts_dir)


def _worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        workers=settings.workers,
        lease_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=settings.poll_seconds,
        dispatch_window_seconds=settings.dispatch_window_seconds,
        max_attempts=settings.max_attempts,
        job_deadline_seconds=settings.job_deadline_seconds,
        qc_max_frames=settings.qc_max_frames,
        qc_max_pixels=settings.qc_max_pixels,
        qc_settlement=settings.qc_settlement,
        nice=settings.worker_nice,
        retry=RetryPolicy(
            attempts=settings.retries_per_backend,
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
            timeout_seconds=settings.generation_timeout_seconds,
        ),
    )


def _delivery_config(settings: Settings, policy: AddressPolicy) -> DeliveryConfig:
    return DeliveryConfig(
        policy=policy,
        timeout_seconds=settings.webhook_timeout_seconds,
        concurrency=settings.webhook_concurrency,
        poll_seconds=settings.webhook_poll_seconds,
        schedule=tuple(settings.webhook_retry_schedule),
    )


def build_state(settings: Settings, metrics: Metrics) -> AppState:
    """Everything the app serves from: database (migrated), backends, engine, limits, billing config."""
    config = load_config(settings.config, settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    upgrade(db)
    adapters, offers = build_backends(settings, config, metrics)
    artifacts = _artifact_store(settings, db)
    events = EventBus()
    events.register("metrics", MetricsSink(metrics))
    secret_key = SecretKey.load(settings.secret_key, settings.data_dir / "secret.key")
    outbound = AddressPolicy.of(settings.outbound_allow_http, settings.outbound_allow_networks)
    links = VideoLinks(
        secret_key,
        settings.base_url(),
        settings.content_link_seconds,
        settings.retention_days * 86400 if settings.retention_days is not None else None,
    )
    render = partial(video_object, links=links)
    events.register_durable("webhooks", WebhookOutbox(render))
    deliverer = WebhookDeliverer(
        db, secret_key, _delivery_config(settings, outbound), metrics.observe_webhook
    )
    events.register("webhooks", deliverer)
    watch = JobWatch()
    events.register("live", watch)
    store = JobStore(db, events)
    fleet = Fleet(db, adapters, offers)
    workers = (
        WorkerPool(store, adapters, artifacts, _worker_config(settings), fleet) if settings.workers else None
    )
    service = JobService(
        db,
        artifacts,
        lambda: offers,
        max_prompt_chars=settings.max_prompt_chars,
        regeneration=(settings.regeneration_guard, settings.regeneration_limit),
        capability_guard=settings.capability_guard,
        fleet=fleet,
        fallbacks=config.routes.fallbacks,
        routing_defaults=routing_preferences(config.routes.defaults),
        key_routing={k: routing_preferences(v) for k, v in config.routes.keys.items()},
        key_allow=config.routes.allow,
        render=render,
        events=events,
        wake=workers.wake if workers else lambda: None,
        store=store,
        cancel_local=workers.cancel_local if workers else lambda job_id: None,
    )
    _track(metrics, store, db, adapters)
    return AppState(
        settings=settings,
        db=db,
        metrics=metrics,
        artifacts=artifacts,
        adapters=adapters,
        offers=offers,
        jobs=store,
        service=service,
        workers=workers,
        keys=KeyCache(),
        fleet=fleet,
        events=events,
        secret_key=secret_key,
        outbound=outbound,
        deliverer=deliverer,
        watch=watch,
        links=links,
        limiter=make_limiter(settings.rate_limit_per_minute, settings.rate_limit_burst, settings.redis_url),
        stripe=StripeConfig(
            settings.stripe_secret_key, settings.stripe_webhook_secret, settings.stripe_api_base
        ),
        qc_slots=threading.BoundedSemaphore(settings.qc_concurrency),
        packs={
            p.id: CreditPack(p.id, millicredits(p.credits), p.price_cents, p.currency, p.name)
            for p in config.billing.packs
        },
    )


def _track(metrics: Metrics, store: JobStore, db: Database, adapters: dict[str, Adapter]) -> None:
    """Gauges read at scrape time: queue and outbox depth, models resident per local backend."""
    metrics.track_queue_depth(store.queue_depth)
    metrics.track_outbox_depth(lambda: outbox_depth(db))
    for name, adapter in adapters.items():
        if isinstance(adapter, LocalAdapter):
            metrics.track_residency(name, adapter.resident_count, adapter.resident_bytes)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway. ``settings`` defaults to the environment (``FRAMEGATE_*``)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.fg = state = build_state(settings, metrics)
        workers, adapters, db = state.workers, state.adapters, state.db
        if workers is not None:
            await workers.start()
        await state.deliverer.start()
        maintenance = asyncio.create_task(_maintain_forever(app.state.fg))
        lag = asyncio.create_task(sample_loop_lag(metrics))
        # Everything built so far lives as long as the process: keep the cyclic GC from rescanning
        # it on every full collection (those scans were ~100 ms pauses in the request path).
        gc.freeze()
        log.info(
            "framegate ready: %d models on %s",
            len(state.offers),
            ", ".join(sorted(adapters)) or "no backends",
        )
        try:
            yield
        finally:
            maintenance.cancel()
            lag.cancel()
            if workers is not None:
                await workers.stop()
            await state.deliverer.stop()
            for adapter in adapters.values():
                adapter.close()
            if app.state.fg.limiter is not None:
                await app.state.fg.limiter.close()
            db.dispose()

    app = FastAPI(
        title="Framegate",
        version="0.1.0",
        lifespan=lifespan,
        description="One API for many open video diffusion models.",
    )
    install_error_handlers(app)
    api = [
        live,
        derived,
        videos,
        models,
        health,
        account,
        quotes,
        routing,
        creative,
        prompt_help,
        shots,
        projects,
        billing_routes,
        webhooks,
        provider_hooks,
    ]
    # The status poll first, as a plain route: it is most of the traffic (see videos.POLL_ROUTE).
    app.router.routes.append(videos.POLL_ROUTE)
    for module in api:
        app.include_router(module.router, dependencies=[Depends(known_query_only)])
    install_dashboard(app)
    install_contract(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(UrlGuardMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
