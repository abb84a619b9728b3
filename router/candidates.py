"""Candidates: which (model, backend) pairs can honour a request, with exact parameters and price."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from billing import PriceRule
from local_models import MAX_SEED, GenerationParams, InvalidInput, Mode, ModelSpec, resolve

from .errors import ModelNotFound, NoCandidate

__all__ = ["AUTO", "Candidate", "Offer", "RouteRequest", "candidates_for", "default_price", "offers_by_model"]

AUTO = "auto"


def default_price(spec: ModelSpec) -> PriceRule:
    """The spec's credits per second, at its default size and steps.

    Models whose larger sizes are upsampled from a fixed native size (``spec.extras["native_size"]``)
    cost the same at every size.
    """
    width, height = spec.sizes.default
    scales = "native_size" not in spec.extras
    return PriceRule(spec.price_per_second, width * height if scales else None, spec.default_steps)


@dataclass(frozen=True)
class Offer:
    """A model as served by one backend, at a price."""

    spec: ModelSpec
    backend: str
    price: PriceRule | None = None

    @property
    def price_rule(self) -> PriceRule:
        return self.price or default_price(self.spec)


@dataclass(frozen=True)
class RouteRequest:
    """What the caller asked for, before any model's rules are applied."""

    model: str | None
    mode: Mode
    size: tuple[int, int] | None = None
    seconds: float | None = None
    frames: int | None = None
    fps: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    negative_prompt: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A (model, backend) pair that can run the request, with what it would run and cost."""

    spec: ModelSpec
    backend: str
    params: GenerationParams
    price_mc: int


@dataclass(frozen=True)
class Rejection:
    model: str
    reason: str


def offers_by_model(offers: Sequence[Offer]) -> dict[str, list[Offer]]:
    grouped: dict[str, list[Offer]] = {}
    for offer in offers:
        grouped.setdefault(offer.spec.id, []).append(offer)
    return grouped


def _candidate(offer: Offer, request: RouteRequest, seed: int) -> Candidate:
    params = resolve(
        offer.spec,
        mode=request.mode,
        size=request.size,
        seconds=request.seconds,
        frames=request.frames,
        fps=request.fps,
        steps=request.steps,
        guidance=request.guidance,
        seed=seed,
        negative_prompt=request.negative_prompt,
    )
    price = offer.price_rule.quote_mc(
        seconds=params.duration, width=params.width, height=params.height, steps=params.steps
    )
    return Candidate(offer.spec, offer.backend, params, price)


def candidates_for(
    request: RouteRequest, offers: Sequence[Offer], *, rng: random.Random | None = None
) -> tuple[list[Candidate], list[Rejection]]:
    """Every offer that fits ``request`` (unordered) and why the others do not.

    An explicit model that does not fit raises its own precise :class:`InvalidInput`;
    an unknown model raises :class:`ModelNotFound`.
    """
    # One seed for all candidates, so that a fallback renders the same take.
    seed = request.seed if request.seed is not None else (rng or random.SystemRandom()).randint(0, MAX_SEED)
    if request.model not in (None, AUTO):
        matching = [o for o in offers if o.spec.id == request.model]
        if not matching:
            known = ", ".join(sorted({o.spec.id for o in offers})) or "none"
            raise ModelNotFound(f"model {request.model!r} does not exist (available: {known})", param="model")
        return [_candidate(o, request, seed) for o in matching], []
    fits: list[Candidate] = []
    rejected: list[Rejection] = []
    for offer in offers:
        try:
            fits.append(_candidate(offer, request, seed))
        except InvalidInput as exc:
            rejected.append(Rejection(offer.spec.id, exc.message))
    if not fits:
        reasons = "; ".join(r.reason for r in rejected) or "no models are configured"
        raise NoCandidate(f"no model can serve this request: {reasons}")
    return fits, rejected
