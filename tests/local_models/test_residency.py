"""The residency pool: LRU under a model count and a memory budget, one load per model at a time."""

from __future__ import annotations

import threading
import time

import pytest

from local_models import LoadedPipeline, LocalModelError, PipelinePool


def fake(model_id: str, size: int) -> LoadedPipeline:
    return LoadedPipeline(model_id, "t2v", object(), "cpu", 0.01, memory_bytes=size)


def test_budget_evicts_least_recently_used() -> None:
    evicted: list[str] = []
    pool = PipelinePool(10, budget_bytes=100, on_evict=evicted.append)
    pool.get("a", lambda: fake("a", 40), estimate_bytes=40)
    pool.get("b", lambda: fake("b", 40), estimate_bytes=40)
    pool.get("a", lambda: fake("a", 40))  # a is now the most recently used
    pool.get("c", lambda: fake("c", 40), estimate_bytes=40)
    assert evicted == ["b"] and pool.warm() == ["a", "c"] and pool.used_bytes() == 80


def test_measured_size_counts_after_the_load() -> None:
    evicted: list[str] = []
    pool = PipelinePool(10, budget_bytes=100, on_evict=evicted.append)
    pool.get("a", lambda: fake("a", 50))
    pool.get("b", lambda: fake("b", 70), estimate_bytes=10)  # underestimated: a goes after the load
    assert evicted == ["a"] and pool.warm() == ["b"]


def test_count_limit_without_a_budget() -> None:
    pool = PipelinePool(2)
    for key in "abc":
        pool.get(key, lambda key=key: fake(key, 1))
    assert pool.warm() == ["b", "c"]


def test_a_model_larger_than_the_budget_is_refused_before_loading() -> None:
    pool = PipelinePool(2, budget_bytes=100)
    with pytest.raises(LocalModelError) as err:
        pool.get("huge", lambda: pytest.fail("must not load"), estimate_bytes=500)
    assert err.value.code == "model_too_large" and "FRAMEGATE_GPU_MEMORY_GB" in err.value.message


def test_concurrent_requests_share_one_load() -> None:
    pool = PipelinePool(2)
    loads = []

    def slow() -> LoadedPipeline:
        loads.append(1)
        time.sleep(0.2)
        return fake("a", 1)

    got: list[LoadedPipeline] = []
    threads = [threading.Thread(target=lambda: got.append(pool.get("a", slow))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len({id(g) for g in got}) == 1


def test_filling_the_budget_or_the_count_exactly_evicts_nothing() -> None:
    evicted: list[str] = []
    loaded: list[str] = []
    pool = PipelinePool(
        2, budget_bytes=100, on_evict=evicted.append, on_load=lambda p: loaded.append(p.model_id)
    )
    pool.get("a", lambda: fake("a", 50), estimate_bytes=50)
    pool.get("b", lambda: fake("b", 50), estimate_bytes=50)  # 100 of 100 bytes, 2 of 2 models
    assert evicted == [] and pool.warm() == ["a", "b"] and pool.used_bytes() == 100
    assert loaded == ["a", "b"]
    assert pool.get("a", lambda: pytest.fail("resident: must not load")).model_id == "a"
    assert pool.warm() == ["b", "a"] and loaded == ["a", "b"]  # a hit is no load
    pool.get("c", lambda: fake("c", 1), estimate_bytes=1)  # one over the count: the LRU (b) goes
    assert evicted == ["b"] and pool.warm() == ["a", "c"]


def test_a_model_exactly_the_budget_loads_alone() -> None:
    evicted: list[str] = []
    pool = PipelinePool(4, budget_bytes=100, on_evict=evicted.append)
    pool.get("a", lambda: fake("a", 30), estimate_bytes=30)
    pool.get("whole", lambda: fake("whole", 100), estimate_bytes=100)
    assert evicted == ["a"] and pool.warm() == ["whole"] and pool.used_bytes() == 100


def test_at_least_one_model_and_clear() -> None:
    pool = PipelinePool(0)
    assert pool.max_loaded == 1
    pool.get("a", lambda: fake("a", 1))
    pool.get("b", lambda: fake("b", 1))
    assert pool.warm() == ["b"]
    pool.clear()
    assert pool.warm() == [] and pool.used_bytes() == 0
    assert pool.get("b", lambda: fake("b", 2)).memory_bytes == 2  # loads again after a clear


def test_a_failed_load_leaves_nothing_behind_and_can_be_retried() -> None:
    pool = PipelinePool(2, budget_bytes=100)

    def broken() -> LoadedPipeline:
        raise RuntimeError("weights are corrupt")

    with pytest.raises(RuntimeError):
        pool.get("a", broken, estimate_bytes=10)
    assert pool.warm() == [] and pool.used_bytes() == 0
    assert pool.get("a", lambda: fake("a", 10)).model_id == "a"


def test_room_is_made_before_the_load_not_after() -> None:
    """On a GPU the old model must be gone before the new one's weights arrive."""
    pool = PipelinePool(1)
    pool.get("a", lambda: fake("a", 1))
    seen: list[list[str]] = []
    pool.get("b", lambda: (seen.append(pool.warm()), fake("b", 1))[1])
    assert seen == [[]] and pool.warm() == ["b"]
    budgeted = PipelinePool(5, budget_bytes=100)
    budgeted.get("a", lambda: fake("a", 60), estimate_bytes=60)
    budgeted.get("b", lambda: (seen.append(budgeted.warm()), fake("b", 60))[1], estimate_bytes=60)
    assert seen[-1] == [] and budgeted.warm() == ["b"]


def test_a_model_larger_than_measured_estimate_stays_once_loaded() -> None:
    pool = PipelinePool(3, budget_bytes=100)
    pool.get("a", lambda: fake("a", 150), estimate_bytes=10)  # alone over the budget: kept, it is in use
    assert pool.warm() == ["a"] and pool.used_bytes() == 150


def test_defaults_and_what_the_refusal_says() -> None:
    assert PipelinePool().max_loaded == 2
    pool = PipelinePool(2, budget_bytes=2 * 1024**3)
    with pytest.raises(LocalModelError) as err:
        pool.get("big", lambda: pytest.fail("must not load"), estimate_bytes=3 * 1024**3)
    assert "about 3.0 GiB" in err.value.message and "budget of 2.0 GiB" in err.value.message
