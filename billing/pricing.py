"""Prices and quotes. Pure functions: no database, no model calls."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MC_PER_CREDIT", "PriceRule", "credits", "millicredits", "quote_mc"]

MC_PER_CREDIT = 1000


@dataclass(frozen=True)
class PriceRule:
    """Credits per second of video at a base resolution and step count.

    The price scales linearly with pixels (``width * height / base_pixels``) and with steps
    (``steps / base_steps``); either scaling is off when its base is None. Hosted providers price
    by size tier (``by_size``: credits per second for a ``WxH``, used as is, without pixel scaling)
    and per clip (``per_clip`` credits added to every clip).
    """

    per_second: float
    base_pixels: int | None = None
    base_steps: int | None = None
    per_clip: float = 0.0
    by_size: tuple[tuple[str, float], ...] = ()

    def quote_mc(self, *, seconds: float, width: int, height: int, steps: int) -> int:
        tier = dict(self.by_size).get(f"{width}x{height}")
        factor = seconds
        if tier is None and self.base_pixels:
            factor *= (width * height) / self.base_pixels
        if self.base_steps:
            factor *= steps / self.base_steps
        per_second = self.per_second if tier is None else tier
        return quote_mc(per_second, factor) + millicredits(self.per_clip)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "credits_per_second": self.per_second,
            "base_pixels": self.base_pixels,
            "base_steps": self.base_steps,
        }
        if self.per_clip:
            out["credits_per_clip"] = self.per_clip
        if self.by_size:
            out["credits_per_second_by_size"] = dict(self.by_size)
        return out


def quote_mc(price_per_second: float, duration_seconds: float) -> int:
    """Credits per second times duration, in millicredits, rounded up."""
    return max(0, math.ceil(round(price_per_second * duration_seconds * MC_PER_CREDIT, 6)))


def millicredits(amount_credits: float) -> int:
    """Credits (as a user types them) to millicredits."""
    return round(amount_credits * MC_PER_CREDIT)


def credits(amount_mc: int) -> float:
    """Millicredits to credits for display (exact to three decimals)."""
    return amount_mc / MC_PER_CREDIT
