"""Token buckets per bot account: in-process, or in Redis so that several processes share them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class _Bucket:
    tokens: float
    at: float


class MemoryLimiter:
    def __init__(self, rate_per_minute: float, burst: int, rates: dict[str, float] | None = None) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = burst
        self.rates = {k: v / 60.0 for k, v in (rates or {}).items()}
        self._buckets: dict[str, _Bucket] = {}

    async def take(self, key: str, now: datetime) -> float:
        """Take one token; 0 if granted, else the seconds to wait for one."""
        rate = self.rates.get(key, self.rate)
        t = now.timestamp()
        b = self._buckets.setdefault(key, _Bucket(self.burst, t))
        b.tokens = min(self.burst, b.tokens + (t - b.at) * rate)
        b.at = max(b.at, t)
        if b.tokens >= 1:
            b.tokens -= 1
            return 0.0
        return (1 - b.tokens) / rate

    async def refund(self, key: str) -> None:
        """Give back a token taken for a send that never reached the platform."""
        b = self._buckets.get(key)
        if b is not None:
            b.tokens = min(self.burst, b.tokens + 1)


_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1]); local burst = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local b = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(b[1]) or burst; local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if now > at then at = now end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('EXPIRE', key, 3600)
return tostring(wait)
"""


class RedisLimiter(MemoryLimiter):
    """Shared buckets; while Redis is down, the in-process bucket (`state` says so once)."""

    def __init__(self, redis: Any, rate_per_minute: float, burst: int, rates: dict[str, float] | None = None,
                 state: Any = None) -> None:
        super().__init__(rate_per_minute, burst, rates)
        self.redis = redis
        self.state = state
        self._script = redis.register_script(_LUA)

    async def take(self, key: str, now: datetime) -> float:
        if self.state is not None and not self.state.usable():
            return await super().take(key, now)
        rate = self.rates.get(key, self.rate)
        try:
            wait = await self._script(keys=[f"ratelimit:{key}"], args=[rate, self.burst, now.timestamp()])
        except Exception as exc:
            if self.state is None:
                raise
            self.state.failed(exc)
            return await super().take(key, now)
        if self.state is not None:
            self.state.ok()
        return float(wait)

    async def refund(self, key: str) -> None:
        if self.state is not None and not self.state.usable():
            return await super().refund(key)
        try:
            await self.redis.hincrbyfloat(f"ratelimit:{key}", "tokens", 1)
        except Exception:
            await super().refund(key)
