"""Routing: explicit models and their fallback chains, policies, preferences, health, exclusions."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from adapters import fake_model_spec
from local_models import InvalidInput, VideoRequest
from router import (
    BackendHealth,
    BackendView,
    FleetView,
    History,
    ModelNotFound,
    NoCandidate,
    Offer,
    RoutingPreferences,
    plan,
)

CHEAP = Offer(replace(fake_model_spec("cheap", price_per_second=0.5, modes=("t2v",)), quality=0.2), "b1")
PRICEY = Offer(replace(fake_model_spec("pricey", price_per_second=3.0), quality=0.9), "b2")
MID = Offer(replace(fake_model_spec("mid", price_per_second=1.0), quality=0.5), "b3")
OFFERS = [PRICEY, CHEAP, MID]


def models(p) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.candidate.spec.id for r in p.ranked]


def test_explicit_model_then_its_fallback_chain() -> None:
    ranked = plan(VideoRequest(model="pricey", mode="t2v"), OFFERS, fallbacks={"pricey": ["mid", "cheap"]})
    assert models(ranked) == ["pricey", "mid", "cheap"]
    assert ranked.ranked[0].why == "the requested model" and ranked.ranked[1].why == "fallback 1 of pricey"
    assert ranked.first.price_mc == 3000
    alone = plan(VideoRequest(model="pricey", mode="t2v"), OFFERS)
    assert models(alone) == ["pricey"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("cheapest", ["cheap", "mid", "pricey"]),
        ("quality", ["pricey", "mid", "cheap"]),
    ],
)
def test_policies(policy: str, expected: list[str]) -> None:
    assert (
        models(plan(VideoRequest(model="auto", mode="t2v"), OFFERS, RoutingPreferences(policy=policy)))
        == expected
    )


def test_fastest_prefers_warm_models_when_a_cold_load_costs_more_than_waiting() -> None:
    view = FleetView(
        backends={
            "b1": BackendView(queued_seconds=5.0),
            "b2": BackendView(queued_seconds=40.0, warm_models=frozenset({"pricey"})),
            "b3": BackendView(warm_models=frozenset({"mid"})),
        },
        history={"cheap": History(0.01, load_seconds=60.0), "pricey": History(0.01), "mid": History(0.01)},
    )
    p = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, RoutingPreferences(policy="fastest"), view=view)
    assert models(p) == ["mid", "pricey", "cheap"]  # cheap is idle but cold: 60 s load > 40 s queue
    est = {r.candidate.spec.id: r.estimate for r in p.ranked}
    assert est["cheap"].load_seconds == 60.0 and est["pricey"].load_seconds == 0.0
    assert est["pricey"].queue_seconds == 40.0 and est["pricey"].warm


def test_balanced_trades_price_time_and_quality() -> None:
    p = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, RoutingPreferences(policy="balanced"))
    scores = {r.candidate.spec.id: r.score for r in p.ranked}
    assert scores["cheap"] < scores["pricey"]
    assert all(0.0 <= s <= 1.0 for s in scores.values())


def test_preferences_filter_and_explain() -> None:
    prefs = RoutingPreferences(ignore=("cheap",), max_price_mc=1500)
    p = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, prefs)
    assert models(p) == ["mid"]
    why = {(e.model, e.code) for e in p.excluded}
    assert why == {("cheap", "ignored"), ("pricey", "over_max_price")}
    only = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, RoutingPreferences(only=("b2",)))
    assert models(only) == ["pricey"]
    ordered = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, RoutingPreferences(order=("pricey",)))
    assert models(ordered) == ["pricey", "cheap", "mid"]
    single = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, RoutingPreferences(allow_fallbacks=False))
    assert models(single) == ["cheap"] and {e.code for e in single.excluded} == {"fallbacks_disabled"}


def test_max_wait_excludes_slow_candidates() -> None:
    view = FleetView(backends={"b2": BackendView(queued_seconds=500.0)})
    p = plan(
        VideoRequest(model="auto", mode="i2v"), OFFERS, RoutingPreferences(max_wait_seconds=60), view=view
    )
    assert models(p) == ["mid"] and ("pricey", "over_max_wait") in {(e.model, e.code) for e in p.excluded}


def test_open_circuit_is_skipped() -> None:
    health = {"b1": BackendHealth("open", 0.9, 20, None), "b3": BackendHealth("closed", 0.0, 3, 0.1)}
    p = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, health=health)
    assert "cheap" not in models(p) and ("cheap", "circuit_open") in {(e.model, e.code) for e in p.excluded}


def test_unknown_model() -> None:
    with pytest.raises(ModelNotFound) as err:
        plan(VideoRequest(model="nope", mode="t2v"), OFFERS)
    assert "cheap" in err.value.message and err.value.param == "model"


def test_explicit_model_that_cannot_fit_says_why() -> None:
    with pytest.raises(InvalidInput) as err:
        plan(VideoRequest(model="cheap", mode="i2v"), OFFERS)
    assert err.value.code == "unsupported_mode"


def test_nothing_fits() -> None:
    with pytest.raises(NoCandidate) as err:
        plan(VideoRequest(model="auto", mode="t2v", size=(4096, 4096)), OFFERS)
    assert "4096x4096" in err.value.message


def test_one_seed_for_every_candidate() -> None:
    p = plan(VideoRequest(model="auto", mode="t2v"), OFFERS, rng=random.Random(3))
    assert len({c.params.seed for c in p.candidates()}) == 1
