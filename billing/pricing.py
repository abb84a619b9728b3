"""Prices and quotes. Pure functions: no database, no model calls."""

from __future__ import annotations

import math

__all__ = ["MC_PER_CREDIT", "credits", "millicredits", "quote_mc"]

MC_PER_CREDIT = 1000


def quote_mc(price_per_second: float, duration_seconds: float) -> int:
    """Price of a clip in millicredits: credits per second of video times its duration, rounded up."""
    return max(0, math.ceil(round(price_per_second * duration_seconds * MC_PER_CREDIT, 6)))


def millicredits(amount_credits: float) -> int:
    """Credits (as a user types them) to millicredits."""
    return round(amount_credits * MC_PER_CREDIT)


def credits(amount_mc: int) -> float:
    """Millicredits to credits for display (exact to three decimals)."""
    return amount_mc / MC_PER_CREDIT
