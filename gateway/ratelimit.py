"""Per-key rate limits: a token bucket, shared by every gateway process through Redis when
``FRAMEGATE_REDIS_URL`` is set, kept in this process otherwise (the embedded default).

A refused request gets ``429 rate_limited`` with ``retry-after`` (seconds until a token is back).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

__all__ = ["InProcessLimiter", "RateLimiter", "RedisLimiter", "make_limiter"]


class RateLimiter(Protocol):
    async def acquire(self, key: str) -> float:
        """Take one token from ``key``'s bucket: 0 if allowed, else seconds until one is available."""
        ...

    async def close(self) -> None: ...


class InProcessLimiter:
    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    async def acquire(self, key: str) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    async def close(self) -> None:
        pass


# Refill and take atomically, on Redis's own clock (every process sees the same time).
_BUCKET = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return tostring(wait)
"""


class RedisLimiter:
    def __init__(self, url: str, per_minute: float, burst: int, prefix: str = "framegate:ratelimit:") -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.rate = per_minute / 60.0
        self.capacity = burst
        self.prefix = prefix
        self._script = self.client.register_script(_BUCKET)

    async def acquire(self, key: str) -> float:
        return float(await self._script(keys=[self.prefix + key], args=[self.rate, self.capacity]))

    async def close(self) -> None:
        await self.client.aclose()


def make_limiter(per_minute: float, burst: int | None, redis_url: str | None) -> RateLimiter | None:
    if per_minute <= 0:
        return None
    burst = burst or max(1, math.ceil(per_minute / 6))
    if redis_url:
        return RedisLimiter(redis_url, per_minute, burst)
    return InProcessLimiter(per_minute, burst)
