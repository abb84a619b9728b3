"""The routing policies' scores, as ``POST /v1/routes/explain`` shows them, computed by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters import fake_model_spec
from local_models import VideoRequest, resolve
from router.candidates import Candidate
from router.estimate import Estimate
from router.policy import POLICIES, Scored, balanced, cheapest, fastest, quality


def _scored(model: str, price_mc: int, seconds: float, quality_: float, backend: str = "b") -> Scored:
    spec = replace(fake_model_spec(model, price_per_second=1.0), quality=quality_)
    params = resolve(spec, VideoRequest(mode="t2v", seed=1))
    return Scored(Candidate(spec, backend, params, price_mc), Estimate(0.0, 0.0, seconds, True))


A = _scored("a", price_mc=1_000, seconds=10.0, quality_=0.2)
B = _scored("b", price_mc=3_000, seconds=30.0, quality_=0.9)
C = _scored("c", price_mc=2_000, seconds=50.0, quality_=0.5)


def _scores(ranked: list[tuple[Scored, float]]) -> list[tuple[str, float]]:
    return [(s.candidate.spec.id, score) for s, score in ranked]


def test_cheapest_scores_are_credits() -> None:
    assert _scores(cheapest([B, C, A])) == [("a", 1.0), ("c", 2.0), ("b", 3.0)]


def test_fastest_scores_are_seconds() -> None:
    assert _scores(fastest([C, B, A])) == [("a", 10.0), ("b", 30.0), ("c", 50.0)]


def test_quality_scores_are_one_minus_quality() -> None:
    assert _scores(quality([A, C, B])) == [("b", pytest.approx(0.1)), ("c", 0.5), ("a", pytest.approx(0.8))]


def test_balanced_weighs_scaled_price_and_time_and_quality() -> None:
    # price scaled over 1..3 credits, time over 10..50 s: 0.4 * price + 0.4 * time + 0.2 * (1 - quality)
    expected = {
        "a": round(0.4 * 0.0 + 0.4 * 0.0 + 0.2 * 0.8, 6),
        "b": round(0.4 * 1.0 + 0.4 * 0.5 + 0.2 * 0.1, 6),
        "c": round(0.4 * 0.5 + 0.4 * 1.0 + 0.2 * 0.5, 6),
    }
    ranked = balanced([C, B, A])
    assert _scores(ranked) == [("a", expected["a"]), ("b", expected["b"]), ("c", expected["c"])]


def test_balanced_with_equal_prices_and_times_is_quality() -> None:
    same = [_scored(m, 1_000, 10.0, q) for m, q in (("x", 0.3), ("y", 0.8))]
    assert _scores(balanced(same)) == [("y", pytest.approx(0.04)), ("x", pytest.approx(0.14))]


def test_ties_break_by_price_then_time_then_id_whatever_the_input_order() -> None:
    cheap = _scored("m2", 1_000, 20.0, 0.5)
    dear = _scored("m1", 2_000, 10.0, 0.5)
    slow = _scored("m3", 1_000, 30.0, 0.5)
    twin = _scored("m0", 1_000, 20.0, 0.5)
    for order in ([dear, slow, cheap, twin], [twin, cheap, slow, dear]):
        assert [s.candidate.spec.id for s, _ in quality(order)] == ["m0", "m2", "m3", "m1"]
    assert set(POLICIES) == {"cheapest", "fastest", "quality", "balanced"}
    assert POLICIES["balanced"] is balanced and POLICIES["cheapest"] is cheapest
