"""Routing policies: pure functions that order candidates."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .candidates import Candidate

__all__ = ["POLICIES", "Policy", "cheapest"]

Policy = Callable[[Sequence[Candidate]], list[Candidate]]


def cheapest(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Lowest price first; ties broken by model id so the order is stable."""
    return sorted(candidates, key=lambda c: (c.price_mc, c.spec.id, c.backend))


POLICIES: dict[str, Policy] = {"cheapest": cheapest}
