"""Backend health, recorded apart from choice: a circuit breaker per backend.

closed --(failure rate over the window >= threshold, with enough calls)--> open
open --(cooldown elapsed)--> half-open: one probe call is let through
half-open --success--> closed; --failure--> open again
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BackendHealth", "BreakerConfig", "CircuitBreaker", "HealthRegistry"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    window: int = 20  # the last N outcomes
    min_calls: int = 5
    failure_rate: float = 0.5
    cooldown_seconds: float = 30.0


@dataclass(frozen=True)
class BackendHealth:
    state: str
    error_rate: float
    calls: int
    latency_p50: float | None

    @property
    def available(self) -> bool:
        return self.state != OPEN


class CircuitBreaker:
    def __init__(
        self, config: BreakerConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or BreakerConfig()
        self.clock = clock
        self._outcomes: deque[bool] = deque(maxlen=self.config.window)
        self._latencies: deque[float] = deque(maxlen=self.config.window)
        self._state = CLOSED
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._current()

    def _current(self) -> str:
        if self._state == OPEN and self.clock() - self._opened_at >= self.config.cooldown_seconds:
            self._state, self._probing = HALF_OPEN, False
        return self._state

    def allow(self) -> bool:
        """May a call go to this backend now? In half-open, only one probe at a time."""
        with self._lock:
            state = self._current()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def record(self, ok: bool, seconds: float | None = None) -> None:
        with self._lock:
            state = self._current()
            self._outcomes.append(ok)
            if ok and seconds is not None:
                self._latencies.append(seconds)
            if state == HALF_OPEN:
                self._probing = False
                if ok:
                    self._state = CLOSED
                    self._outcomes.clear()
                else:
                    self._open()
                return
            calls = len(self._outcomes)
            failures = calls - sum(self._outcomes)
            if calls >= self.config.min_calls and failures / calls >= self.config.failure_rate:
                self._open()

    def _open(self) -> None:
        self._state, self._opened_at, self._probing = OPEN, self.clock(), False

    def snapshot(self) -> BackendHealth:
        with self._lock:
            state = self._current()
            calls = len(self._outcomes)
            rate = (calls - sum(self._outcomes)) / calls if calls else 0.0
            lat = sorted(self._latencies)
            return BackendHealth(state, round(rate, 4), calls, lat[len(lat) // 2] if lat else None)


class HealthRegistry:
    """One breaker per backend name."""

    def __init__(
        self, config: BreakerConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or BreakerConfig()
        self.clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def breaker(self, backend: str) -> CircuitBreaker:
        with self._lock:
            if backend not in self._breakers:
                self._breakers[backend] = CircuitBreaker(self.config, self.clock)
            return self._breakers[backend]

    def snapshot(self) -> dict[str, BackendHealth]:
        with self._lock:
            names = list(self._breakers)
        return {name: self.breaker(name).snapshot() for name in names}
