"""Which queued job a free worker takes: warm work first, never past the reorder window."""

from __future__ import annotations

from router import LOAD_FACTOR, Queued, next_job


def q(id: str, model: str, at: float, backend: str = "gpu") -> Queued:
    return Queued(id, model, at, backend)


def test_empty_queue_gives_nothing() -> None:
    assert next_job([], {("gpu", "a")}, window_seconds=60) is None


def test_warm_job_overtakes_older_cold_ones_inside_the_window() -> None:
    queue = [q("1", "cold", 0), q("2", "cold", 5), q("3", "warm", 30)]
    assert next_job(queue, {("gpu", "warm")}, window_seconds=60).id == "3"  # type: ignore[union-attr]


def test_no_job_is_overtaken_by_one_from_beyond_the_window() -> None:
    queue = [q("1", "cold", 0), q("2", "warm", 61)]
    assert next_job(queue, {("gpu", "warm")}, window_seconds=60).id == "1"  # type: ignore[union-attr]


def test_window_zero_is_fifo() -> None:
    queue = [q("2", "warm", 1), q("1", "cold", 0)]  # any input order
    assert next_job(queue, {("gpu", "warm")}, window_seconds=0).id == "1"  # type: ignore[union-attr]


def test_warmth_is_per_backend() -> None:
    queue = [q("1", "m", 0, "a"), q("2", "m", 1, "b")]
    assert next_job(queue, {("b", "m")}, window_seconds=60).id == "2"  # type: ignore[union-attr]


def test_when_nothing_is_warm_one_load_serves_the_most_jobs() -> None:
    queue = [q("1", "rare", 0), q("2", "hot", 1), q("3", "hot", 2), q("4", "rare2", 3)]
    assert next_job(queue, set(), window_seconds=60).id == "2"  # type: ignore[union-attr]


def test_equal_counts_load_for_the_oldest_job() -> None:
    queue = [q("2", "b", 1), q("1", "a", 0), q("3", "b", 2), q("4", "a", 3)]
    assert next_job(queue, set(), window_seconds=60).id == "1"  # type: ignore[union-attr]


def test_a_quick_load_is_barely_worth_waiting_for() -> None:
    """The window shrinks to LOAD_FACTOR loads of the oldest job's model: a 1 s load is bypassed only
    by work that arrived within 30 s of it; a 60 s load by work within the whole window."""
    assert LOAD_FACTOR == 30
    quick = [Queued("1", "cold", 0, "gpu", load_seconds=1), q("2", "warm", 31)]
    assert next_job(quick, {("gpu", "warm")}, window_seconds=600).id == "1"  # type: ignore[union-attr]
    slow = [Queued("1", "cold", 0, "gpu", load_seconds=60), q("2", "warm", 31)]
    assert next_job(slow, {("gpu", "warm")}, window_seconds=600).id == "2"  # type: ignore[union-attr]
