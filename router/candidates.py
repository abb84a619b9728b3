"""Candidates: which (model, backend) pairs can honour a request, with exact parameters and price."""

from __future__ import annotations

from dataclasses import dataclass, replace

from billing import PriceRule
from local_models.spec import GenerationParams, ModelSpec, VideoRequest, resolve

__all__ = [
    "AUTO",
    "Candidate",
    "Offer",
    "default_price",
    "make_candidate",
]

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
class Candidate:
    """A (model, backend) pair that can run the request, with what it would run and cost."""

    spec: ModelSpec
    backend: str
    params: GenerationParams
    price_mc: int


def make_candidate(offer: Offer, request: VideoRequest, seed: int) -> Candidate:
    """``offer`` resolved against ``request`` (with the plan's shared ``seed``), priced."""
    params = resolve(offer.spec, replace(request, seed=seed))
    price = offer.price_rule.quote_mc(
        seconds=params.duration, width=params.width, height=params.height, steps=params.steps
    )
    return Candidate(offer.spec, offer.backend, params, price)
