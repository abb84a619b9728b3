"""What the router needs to know about the backends right now: health (circuit breakers), measured
run and load times per model, queued work and warm models. The worker records; the router reads a
snapshot. Choice and health stay apart."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from adapters import Adapter
from gateway.engine.db import Database, jobs
from gateway.engine.jobs.states import IN_PROGRESS, QUEUED
from local_models import GenerationParams, ModelSpec
from router import (
    BackendHealth,
    BackendView,
    FleetView,
    HealthRegistry,
    History,
    Offer,
    load_seconds,
    run_seconds,
)

__all__ = ["Fleet"]

_MAX_AGE_SECONDS = 5.0


class Fleet:
    def __init__(
        self,
        db: Database,
        adapters: Mapping[str, Adapter],
        offers: list[Offer],
        health: HealthRegistry | None = None,
        snapshot_seconds: float = 0.5,
    ) -> None:
        self.db = db
        self.adapters = adapters
        self.specs: dict[str, ModelSpec] = {o.spec.id: o.spec for o in offers}
        self.health = health or HealthRegistry()
        self.history: dict[str, History] = {}
        self._lock = threading.Lock()
        self._snapshot_seconds = snapshot_seconds
        self._cached: tuple[float, FleetView] | None = None
        self._queue: tuple[float, list[Any]] | None = None
        self._queue_max_age = snapshot_seconds
        self._refreshing = threading.Lock()

    # -- recording (worker side) ---------------------------------------------------------------
    def record_success(
        self,
        backend: str,
        model: str,
        params: GenerationParams,
        run_seconds: float,
        load_seconds: float | None = None,
    ) -> None:
        self.health.breaker(backend).record(True, run_seconds)
        with self._lock:
            h = self.history.setdefault(model, History())
            h.record_run(max(0.0, run_seconds - (load_seconds or 0.0)), params)
            if load_seconds:
                h.record_load(load_seconds)

    def record_failure(self, backend: str) -> None:
        self.health.breaker(backend).record(False)

    def allow(self, backend: str) -> bool:
        return self.health.breaker(backend).allow()

    # -- reading (router side) -----------------------------------------------------------------
    def health_snapshot(self) -> dict[str, BackendHealth]:
        return {name: self.health.breaker(name).snapshot() for name in self.adapters}

    def view(self) -> FleetView:
        """The fleet as of at most ``snapshot_seconds`` ago; its queued work may be older while the
        queue is long (see :meth:`_queued_rows`).

        One thread refreshes the snapshot at a time; the others keep the previous one meanwhile
        instead of each running the queue's aggregate at once (with 64 creates in flight and
        thousands of jobs queued, a dozen concurrent copies of a 150 ms scan at every expiry were
        most of PostgreSQL's time per create)."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self._snapshot_seconds:
            return cached[1]
        if not self._refreshing.acquire(blocking=cached is None):
            assert cached is not None
            return cached[1]
        try:
            cached = self._cached
            started = time.monotonic()
            if cached is not None and started - cached[0] < self._snapshot_seconds:
                return cached[1]  # refreshed by another thread while this one waited
            view = self._build(started)
            self._cached = (started, view)
            return view
        finally:
            self._refreshing.release()

    def invalidate(self) -> None:
        """Forget the snapshot: the next :meth:`view` reads the fleet and the queue afresh."""
        self._cached = None
        self._queue = None

    def _queued_rows(self, now: float) -> list[Any]:
        """(backend, model, frames, steps, count) of the queued and running jobs. The aggregate reads
        every such job, so its result is kept for ten times what it took (at least ``snapshot_seconds``,
        at most ``_MAX_AGE_SECONDS``): however long the queue, it costs at most a tenth of a core.
        The warm models are read afresh each time: a worker choosing its next job must see the model
        it has just loaded."""
        queue = self._queue
        if queue is not None and now - queue[0] < self._queue_max_age:
            return queue[1]
        frames = jobs.c.params["frames"].as_integer()
        steps = jobs.c.params["steps"].as_integer()
        with self.db.read() as conn:
            # Grouped in the database: the queue can be long, the groups are few.
            rows = list(
                conn.execute(
                    select(jobs.c.backend, jobs.c.model, frames, steps, func.count())
                    .where(jobs.c.status.in_((QUEUED, IN_PROGRESS)))
                    .group_by(jobs.c.backend, jobs.c.model, frames, steps)
                ).all()
            )
        took = time.monotonic() - now
        self._queue_max_age = max(self._snapshot_seconds, min(10 * took, _MAX_AGE_SECONDS))
        self._queue = (now, rows)
        return rows

    def _build(self, now: float) -> FleetView:
        rows = self._queued_rows(now)
        with self._lock:
            history = {
                k: History(v.run_seconds_per_frame_step, v.load_seconds) for k, v in self.history.items()
            }
        queued: dict[str, float] = {}
        for backend, model, n_frames, n_steps, count in rows:
            spec = self.specs.get(model)
            if spec is None:
                continue
            work = run_seconds(spec, int(n_frames or 0) * int(n_steps or 0), history) * int(count)
            queued[backend] = queued.get(backend, 0.0) + work
        backends = {}
        for name, adapter in self.adapters.items():
            try:
                warm = frozenset(adapter.health().warm_models)
            except Exception:
                warm = frozenset()
            # A hosted backend runs ``concurrency`` jobs at once: its queue drains that much faster.
            slots = int(getattr(adapter, "concurrency", 1))
            backends[name] = BackendView(queued_seconds=queued.get(name, 0.0), warm_models=warm, slots=slots)
        view = FleetView(backends=backends, history=history)
        return view

    def load_estimates(self) -> dict[str, float]:
        """Estimated cold-load seconds of every model (measured, else the catalog's prior), from the
        same cached snapshot as :meth:`view`."""
        history = self.view().history
        return {model: load_seconds(spec, history) for model, spec in self.specs.items()}

    def describe(self) -> list[dict[str, Any]]:
        """``GET /v1/backends``: each backend's breaker, error rate, latency, queue and warm models."""
        view = self.view()
        out = []
        for name, adapter in sorted(self.adapters.items()):
            h = self.health.breaker(name).snapshot()
            b = view.backends.get(name, BackendView())
            out.append(
                {
                    "id": name,
                    "object": "backend",
                    "state": h.state,
                    "error_rate": h.error_rate,
                    "recent_calls": h.calls,
                    "latency_p50_seconds": h.latency_p50,
                    "queued_seconds": round(b.queued_seconds, 3),
                    "warm_models": sorted(b.warm_models),
                    "models": sorted(spec.id for spec in adapter.models()),
                }
            )
        return out
