"""Routing: explicit models come first, ``auto`` picks the cheapest model that fits."""

from __future__ import annotations

import random

import pytest

from adapters import fake_model_spec
from local_models import InvalidInput
from router import ModelNotFound, NoCandidate, Offer, RouteRequest, plan

CHEAP = Offer(fake_model_spec("cheap", price_per_second=0.5, modes=("t2v",)), "b1")
PRICEY = Offer(fake_model_spec("pricey", price_per_second=3.0), "b2")
OFFERS = [PRICEY, CHEAP]


def test_explicit_model_wins_even_if_pricier() -> None:
    ranked = plan(RouteRequest(model="pricey", mode="t2v"), OFFERS)
    assert [c.spec.id for c in ranked] == ["pricey"]
    assert ranked[0].price_mc == 3000


def test_auto_ranks_by_price_among_those_that_fit() -> None:
    assert [c.spec.id for c in plan(RouteRequest(model="auto", mode="t2v"), OFFERS)] == ["cheap", "pricey"]
    assert [c.spec.id for c in plan(RouteRequest(model=None, mode="i2v"), OFFERS)] == ["pricey"]


def test_unknown_model() -> None:
    with pytest.raises(ModelNotFound) as err:
        plan(RouteRequest(model="nope", mode="t2v"), OFFERS)
    assert "cheap" in err.value.message and err.value.param == "model"


def test_explicit_model_that_cannot_fit_says_why() -> None:
    with pytest.raises(InvalidInput) as err:
        plan(RouteRequest(model="cheap", mode="i2v"), OFFERS)
    assert err.value.code == "unsupported_mode"


def test_nothing_fits() -> None:
    with pytest.raises(NoCandidate) as err:
        plan(RouteRequest(model="auto", mode="t2v", size=(4096, 4096)), OFFERS)
    assert "4096x4096" in err.value.message


def test_one_seed_for_every_candidate() -> None:
    ranked = plan(RouteRequest(model="auto", mode="t2v"), OFFERS, rng=random.Random(3))
    assert len({c.params.seed for c in ranked}) == 1
