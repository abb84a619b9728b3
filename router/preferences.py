"""What the caller may say about routing: ``routing`` in the request body (OpenRouter's names where apt)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["POLICY_NAMES", "RoutingPreferences"]

POLICY_NAMES = ("cheapest", "fastest", "quality", "balanced")


@dataclass(frozen=True)
class RoutingPreferences:
    """``policy`` ranks candidates; ``order`` puts models first in that order; ``only``/``ignore`` filter
    models or backends; ``max_price`` (credits) and ``max_wait_seconds`` exclude what costs or waits
    more; ``allow_fallbacks=False`` keeps only the first choice."""

    policy: str = "cheapest"
    order: tuple[str, ...] = ()
    allow_fallbacks: bool = True
    only: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    max_price_mc: int | None = None
    max_wait_seconds: float | None = None
