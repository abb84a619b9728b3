"""Which pipelines stay loaded: an LRU pool under a count and a device-memory budget.

The same model is never loaded twice at once: concurrent requests for a model that is loading
wait for that one load. Before a load, least-recently-used models are evicted until the new
model's estimated size fits the budget; after it, the measured size is what counts.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable

from .errors import LocalModelError
from .loading import LoadedPipeline

__all__ = ["PipelinePool"]

GIB = 1024**3


class PipelinePool:
    """Keeps up to ``max_loaded`` pipelines, together at most ``budget_bytes``, evicting the LRU.

    ``on_load`` / ``on_evict`` (model id) let the caller record metrics.
    """

    def __init__(
        self,
        max_loaded: int = 2,
        *,
        budget_bytes: int | None = None,
        on_load: Callable[[LoadedPipeline], None] | None = None,
        on_evict: Callable[[str], None] | None = None,
    ) -> None:
        self.max_loaded = max(1, max_loaded)
        self.budget_bytes = budget_bytes
        self._loaded: OrderedDict[str, LoadedPipeline] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._on_load = on_load
        self._on_evict = on_evict

    def get(self, key: str, load: Callable[[], LoadedPipeline], *, estimate_bytes: int = 0) -> LoadedPipeline:
        """The resident pipeline ``key``, loading it with ``load`` (after making room) if needed."""
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._loaded:
                    self._loaded.move_to_end(key)
                    return self._loaded[key]
            if self.budget_bytes is not None and estimate_bytes > self.budget_bytes:
                raise LocalModelError(
                    f"model {key!r} needs about {estimate_bytes / GIB:.1f} GiB, more than the device's "
                    f"budget of {self.budget_bytes / GIB:.1f} GiB (FRAMEGATE_GPU_MEMORY_GB)",
                    code="model_too_large",
                )
            self._evict(keep=None, incoming=estimate_bytes, slots=1)
            loaded = load()
            with self._lock:
                self._loaded[key] = loaded
                self._loading.pop(key, None)
            self._evict(keep=key, incoming=0, slots=0)
        if self._on_load:
            self._on_load(loaded)
        return loaded

    def _evict(self, *, keep: str | None, incoming: int, slots: int) -> None:
        evicted: list[str] = []
        with self._lock:
            while self._loaded:
                over_count = len(self._loaded) + slots > self.max_loaded
                over_budget = (
                    self.budget_bytes is not None and self.used_bytes_locked() + incoming > self.budget_bytes
                )
                if not (over_count or over_budget):
                    break
                victim = next((k for k in self._loaded if k != keep), None)
                if victim is None:
                    break
                del self._loaded[victim]
                evicted.append(victim)
        if evicted:
            _release_memory()
        for key in evicted:
            if self._on_evict:
                self._on_evict(key)

    def used_bytes_locked(self) -> int:
        return sum(p.memory_bytes for p in self._loaded.values())

    def used_bytes(self) -> int:
        """Measured bytes of the resident pipelines."""
        with self._lock:
            return self.used_bytes_locked()

    def warm(self) -> list[str]:
        """Ids of the resident models, most recently used last."""
        with self._lock:
            return list(self._loaded)

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()
        _release_memory()


def _release_memory() -> None:
    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
