"""The router's entry point: a request and the offers in, an ordered list of candidates out."""

from __future__ import annotations

import random
from collections.abc import Sequence

from .candidates import Candidate, Offer, RouteRequest, candidates_for
from .policy import POLICIES

__all__ = ["plan"]


def plan(
    request: RouteRequest,
    offers: Sequence[Offer],
    *,
    policy: str = "cheapest",
    rng: random.Random | None = None,
) -> list[Candidate]:
    """Candidates in the order they should be tried.

    An explicit model comes first (on each backend that serves it); ``model`` omitted or
    ``"auto"`` ranks every fitting model by ``policy``. Never empty: raises instead.
    """
    fits, _ = candidates_for(request, offers, rng=rng)
    return POLICIES[policy](fits)
