"""Which queued job a free worker takes next: warm work first, within a bounded reorder window.

Routing (``plan``) picks a job's model and backend when it is submitted; dispatch picks, when a
worker frees up, which of the queued jobs it runs. Strict FIFO makes a worker load whatever model
the oldest job wants, even when younger jobs for the model it already holds are waiting; on a skewed
mix most of a FIFO fleet's time then goes to model loads. ``next_job`` instead:

1. takes the oldest job whose model is warm on its backend, among the jobs that arrived within
   ``window_seconds`` of the oldest queued job;
2. if none is warm, loads for the model with the most jobs in that window (one load serves the most
   work), taking that model's oldest job; ties go to the model of the oldest job.

The window bounds unfairness: no job is overtaken by one that arrived more than ``window_seconds``
after it, however long the queue grows (an absolute age limit would decay to FIFO under overload,
when every queued job is old). ``window_seconds=0`` is FIFO. The window also shrinks to
``load_factor`` times the oldest job's model load time, when that is known: batching is worth a
wait only in proportion to the load it saves, so a model that loads in a second is barely bypassed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

__all__ = ["LOAD_FACTOR", "Queued", "next_job"]

LOAD_FACTOR = 30.0  # the oldest job waits for at most this many of its model's loads of newer work


@dataclass(frozen=True)
class Queued:
    """A queued job as dispatch sees it."""

    id: str
    model: str
    queued_at: float
    backend: str = ""
    load_seconds: float | None = None  # estimated load time of its model, where known


def next_job(
    queue: Sequence[Queued],
    warm: Collection[tuple[str, str]],
    *,
    window_seconds: float,
    load_factor: float = LOAD_FACTOR,
) -> Queued | None:
    """The job to run next from ``queue`` (any order); ``warm`` holds (backend, model) pairs that
    are loaded now. None for an empty queue."""
    if not queue:
        return None
    ordered = sorted(queue, key=lambda q: (q.queued_at, q.id))
    oldest = ordered[0]
    window = max(0.0, window_seconds)
    if oldest.load_seconds is not None:
        window = min(window, load_factor * oldest.load_seconds)
    horizon = oldest.queued_at + window
    eligible = [q for q in ordered if q.queued_at <= horizon]
    for q in eligible:
        if (q.backend, q.model) in warm:
            return q
    counts: dict[tuple[str, str], int] = {}
    for q in eligible:
        counts[(q.backend, q.model)] = counts.get((q.backend, q.model), 0) + 1
    # max() keeps the first of equal counts, and eligible is oldest first.
    best = max(counts, key=lambda k: counts[k])
    return next(q for q in eligible if (q.backend, q.model) == best)
