"""How long a candidate would take: queue wait + load time if its model is cold + run time.

Run and load times come from measured history per model (an exponential moving average), with the
catalog's prior until there is history. Pure functions over a snapshot of the fleet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local_models.spec import GenerationParams, ModelSpec

__all__ = ["BackendView", "Estimate", "FleetView", "History", "estimate", "load_seconds", "run_seconds"]

DEFAULT_LOAD_SECONDS = 30.0


@dataclass
class History:
    """Measured seconds per unit of work, smoothed: run time per (frame x step), and load time."""

    run_seconds_per_frame_step: float | None = None
    load_seconds: float | None = None
    alpha: float = 0.3

    def record_run(self, seconds: float, params: GenerationParams) -> None:
        unit = seconds / max(1, params.frames * params.steps)
        prior = self.run_seconds_per_frame_step
        self.run_seconds_per_frame_step = unit if prior is None else prior + self.alpha * (unit - prior)

    def record_load(self, seconds: float) -> None:
        prior = self.load_seconds
        self.load_seconds = seconds if prior is None else prior + self.alpha * (seconds - prior)


@dataclass(frozen=True)
class BackendView:
    """One backend as the router sees it right now."""

    queued_seconds: float = 0.0  # estimated work already waiting for this backend
    warm_models: frozenset[str] = frozenset()
    slots: int = 1  # jobs it runs at once


@dataclass(frozen=True)
class FleetView:
    backends: Mapping[str, BackendView] = field(default_factory=dict)
    history: Mapping[str, History] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    queue_seconds: float
    load_seconds: float
    run_seconds: float
    warm: bool

    @property
    def total(self) -> float:
        return self.queue_seconds + self.load_seconds + self.run_seconds


def run_prior(spec: ModelSpec, params: GenerationParams) -> float:
    """The catalog's guess: ``extras["seconds_per_frame_step"]`` (default 0.05 s) x frames x steps."""
    return _prior_per_unit(spec) * params.frames * params.steps


def _prior_per_unit(spec: ModelSpec) -> float:
    return float(spec.extras.get("seconds_per_frame_step", 0.05))  # type: ignore[arg-type]


def run_seconds(spec: ModelSpec, frame_steps: int, history: Mapping[str, History]) -> float:
    """Run time of ``frame_steps`` (frames x steps) of ``spec``: measured history, else the prior."""
    h = history.get(spec.id)
    if h is not None and h.run_seconds_per_frame_step is not None:
        return h.run_seconds_per_frame_step * frame_steps
    return _prior_per_unit(spec) * frame_steps


def load_seconds(spec: ModelSpec, history: Mapping[str, History]) -> float:
    """Time to load ``spec`` cold: measured history, else the catalog's ``extras["load_seconds"]``."""
    h = history.get(spec.id)
    if h is not None and h.load_seconds is not None:
        return h.load_seconds
    prior: Any = spec.extras.get("load_seconds", DEFAULT_LOAD_SECONDS)
    return float(prior)


def estimate(spec: ModelSpec, backend: str, params: GenerationParams, view: FleetView) -> Estimate:
    b = view.backends.get(backend, BackendView())
    run = run_seconds(spec, params.frames * params.steps, view.history)
    warm = spec.id in b.warm_models
    load = 0.0 if warm else load_seconds(spec, view.history)
    return Estimate(b.queued_seconds / max(1, b.slots), load, run, warm)
