"""Circuit breakers: closed -> open on a failing window -> half-open probe after the cooldown -> closed."""

from __future__ import annotations

from router import BreakerConfig, CircuitBreaker, HealthRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_on_failure_rate_and_recovers_through_a_probe() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerConfig(window=10, min_calls=4, failure_rate=0.5, cooldown_seconds=30), clock)
    for ok in (True, False, True):
        b.record(ok, 0.2)
    assert b.state == "closed" and b.allow()
    b.record(False)  # 2 of 4 failed
    assert b.state == "open" and not b.allow()
    clock.now = 29.0
    assert not b.allow()
    clock.now = 30.0
    assert b.state == "half_open"
    assert b.allow() and not b.allow(), "one probe at a time"
    b.record(False)
    assert b.state == "open"
    clock.now = 61.0
    assert b.allow()
    b.record(True, 0.3)
    assert b.state == "closed" and b.allow()


def test_too_few_calls_never_open() -> None:
    b = CircuitBreaker(BreakerConfig(min_calls=5))
    for _ in range(4):
        b.record(False)
    assert b.state == "closed"


def test_snapshot_and_registry() -> None:
    reg = HealthRegistry(BreakerConfig(window=4, min_calls=2))
    reg.breaker("gpu-a").record(True, 1.0)
    reg.breaker("gpu-a").record(True, 3.0)
    reg.breaker("gpu-a").record(False)
    snap = reg.snapshot()["gpu-a"]
    assert snap.state == "closed" and snap.calls == 3 and snap.error_rate == round(1 / 3, 4)
    assert snap.latency_p50 == 3.0 and snap.available
