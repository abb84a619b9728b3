"""``create_app(settings)``: the FastAPI app. All state is built in the lifespan, none at import."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from adapters import Adapter, LocalAdapter, create_adapter
from local_models import Catalog, LoadedPipeline
from router import Offer

from .api import health, models, videos
from .artifacts import LocalDiskStore
from .config import ConfigError, FileConfig, load_config
from .db import Database, upgrade
from .errors import install_error_handlers
from .jobs.service import JobService
from .jobs.store import JobStore
from .jobs.worker import WorkerConfig, WorkerPool
from .metrics import Metrics, MetricsMiddleware
from .middleware import BodyLimitMiddleware
from .settings import Settings
from .state import AppState, KeyCache

__all__ = ["build_backends", "create_app"]

log = logging.getLogger("framegate")


def build_backends(
    settings: Settings, config: FileConfig, metrics: Metrics | None = None
) -> tuple[dict[str, Adapter], list[Offer]]:
    """The configured adapters by name, and every (model, backend) offer with config prices applied."""
    catalog = Catalog.from_config(config.models, builtins=config.builtin_models)
    adapters: dict[str, Adapter] = {}

    def on_load(loaded: LoadedPipeline) -> None:
        if metrics is not None:
            metrics.models_loaded.labels(model=loaded.model_id).inc()
            metrics.model_load_seconds.labels(model=loaded.model_id).observe(loaded.load_seconds)

    local_backends = {entry.backend for entry in catalog} - set(config.backends)
    for name in sorted(local_backends):
        adapters[name] = LocalAdapter(
            catalog,
            settings.resolved_models_dir,
            name=name,
            device=settings.device,
            max_loaded=settings.max_loaded_models,
            on_load=on_load,
        )
    for name, backend in config.backends.items():
        options: dict[str, Any] = backend.model_dump(exclude={"type"})
        try:
            adapters[name] = create_adapter(backend.type, name=name, **options)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"backend {name!r}: {exc}") from exc
    offers = [Offer(spec, name) for name, adapter in adapters.items() for spec in adapter.models()]
    known = {offer.spec.id for offer in offers}
    unknown = sorted(set(config.prices) - known)
    if unknown:
        raise ConfigError(f"[prices] names unknown models: {', '.join(unknown)}")
    offers = [
        Offer(o.spec.with_overrides(price_per_second=config.prices[o.spec.id]), o.backend)
        if o.spec.id in config.prices
        else o
        for o in offers
    ]
    return adapters, offers


async def _checkpoint_forever(db: Database, every_seconds: float = 1.0) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await to_thread.run_sync(db.checkpoint)
        except Exception:
            log.warning("WAL checkpoint failed", exc_info=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway. ``settings`` defaults to the environment (``FRAMEGATE_*``)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = load_config(settings.config)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url())
        upgrade(db)
        adapters, offers = build_backends(settings, config, metrics)
        artifacts = LocalDiskStore(settings.artifacts_dir)
        store = JobStore(db)
        workers = None
        if settings.workers > 0:
            workers = WorkerPool(
                store,
                adapters,
                artifacts,
                WorkerConfig(
                    workers=settings.workers,
                    lease_seconds=settings.lease_seconds,
                    heartbeat_seconds=settings.heartbeat_seconds,
                    poll_seconds=settings.poll_seconds,
                    max_attempts=settings.max_attempts,
                ),
                metrics,
            )
        service = JobService(
            db,
            artifacts,
            lambda: offers,
            max_prompt_chars=settings.max_prompt_chars,
            on_submitted=lambda model: metrics.jobs_submitted.labels(model=model).inc(),
            wake=workers.wake if workers else lambda: None,
        )
        metrics.track_queue_depth(store.queue_depth)
        app.state.fg = AppState(
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
        )
        if workers is not None:
            await workers.start()
        checkpointer = asyncio.create_task(_checkpoint_forever(db)) if db.is_sqlite else None
        # Everything built so far lives as long as the process: keep the cyclic GC from rescanning
        # it on every full collection (those scans were ~100 ms pauses in the request path).
        gc.freeze()
        log.info(
            "framegate ready: %d models on %s", len(offers), ", ".join(sorted(adapters)) or "no backends"
        )
        try:
            yield
        finally:
            if checkpointer is not None:
                checkpointer.cancel()
            if workers is not None:
                await workers.stop()
            for adapter in adapters.values():
                adapter.close()
            db.dispose()

    app = FastAPI(
        title="Framegate",
        version="0.1.0",
        lifespan=lifespan,
        description="One API for many open video diffusion models.",
    )
    install_error_handlers(app)
    app.include_router(videos.router)
    app.include_router(models.router)
    app.include_router(health.router)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
