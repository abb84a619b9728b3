"""Routing policies: pure functions that order scored candidates (lower sort key first)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .candidates import Candidate
from .estimate import Estimate

__all__ = ["POLICIES", "Policy", "Scored", "balanced", "cheapest", "fastest", "quality"]


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    estimate: Estimate

    @property
    def key(self) -> tuple[str, str]:
        return self.candidate.spec.id, self.candidate.backend


Policy = Callable[[Sequence[Scored]], list[tuple[Scored, float]]]


def _ranked(items: Sequence[Scored], score: Callable[[Scored], float]) -> list[tuple[Scored, float]]:
    scored = [(s, score(s)) for s in items]
    # Ties are broken by price, then time, then id: the order never depends on input order.
    return sorted(scored, key=lambda p: (p[1], p[0].candidate.price_mc, p[0].estimate.total, p[0].key))


def cheapest(items: Sequence[Scored]) -> list[tuple[Scored, float]]:
    """Lowest price first (score: credits)."""
    return _ranked(items, lambda s: s.candidate.price_mc / 1000)


def fastest(items: Sequence[Scored]) -> list[tuple[Scored, float]]:
    """Soonest finished first (score: estimated seconds, counting queue and cold loads)."""
    return _ranked(items, lambda s: s.estimate.total)


def quality(items: Sequence[Scored]) -> list[tuple[Scored, float]]:
    """Best model first (score: 1 - the catalog's quality)."""
    return _ranked(items, lambda s: 1.0 - s.candidate.spec.quality)


def balanced(items: Sequence[Scored]) -> list[tuple[Scored, float]]:
    """Price and time, each scaled to [0, 1] over the candidates, and quality: 0.4 / 0.4 / 0.2."""
    prices = [s.candidate.price_mc for s in items]
    times = [s.estimate.total for s in items]

    def scaled(value: float, values: list[float] | list[int]) -> float:
        lo, hi = min(values), max(values)
        return 0.0 if hi == lo else (value - lo) / (hi - lo)

    return _ranked(
        items,
        lambda s: round(
            0.4 * scaled(s.candidate.price_mc, prices)
            + 0.4 * scaled(s.estimate.total, times)
            + 0.2 * (1.0 - s.candidate.spec.quality),
            6,
        ),
    )


POLICIES: dict[str, Policy] = {
    "cheapest": cheapest,
    "fastest": fastest,
    "quality": quality,
    "balanced": balanced,
}
