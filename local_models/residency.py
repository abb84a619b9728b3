"""Which pipelines stay loaded: an LRU pool that never loads the same model twice at once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from .loading import LoadedPipeline
from .spec import Mode

__all__ = ["PipelinePool"]

Key = tuple[str, Mode]


class PipelinePool:
    """Keeps up to ``max_loaded`` pipelines in memory, evicting the least recently used.

    Concurrent requests for a model that is loading wait for that one load instead of
    starting a second. ``on_load`` / ``on_evict`` let the caller record metrics.
    """

    def __init__(
        self,
        max_loaded: int = 2,
        *,
        on_load: Callable[[LoadedPipeline], None] | None = None,
        on_evict: Callable[[Key], None] | None = None,
    ) -> None:
        self.max_loaded = max(1, max_loaded)
        self._loaded: OrderedDict[Key, LoadedPipeline] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Key, threading.Lock] = {}
        self._on_load = on_load
        self._on_evict = on_evict

    def get(self, key: Key, load: Callable[[], LoadedPipeline]) -> LoadedPipeline:
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
            loaded = load()
            with self._lock:
                self._loaded[key] = loaded
                self._loading.pop(key, None)
                evicted = []
                while len(self._loaded) > self.max_loaded:
                    old_key, _ = self._loaded.popitem(last=False)
                    evicted.append(old_key)
        if self._on_load:
            self._on_load(loaded)
        for old_key in evicted:
            if self._on_evict:
                self._on_evict(old_key)
        return loaded

    def warm(self) -> list[Key]:
        """Keys of the pipelines in memory, most recently used last."""
        with self._lock:
            return list(self._loaded)

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()
