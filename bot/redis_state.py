"""Redis is optional at run time: when it fails, callers fall back to in-process state.

One warning when it goes down and one line when it is back, never a traceback per call; while down,
it is tried again at most every `retry_s` seconds. /healthz reports the state."""
from __future__ import annotations

import time
from typing import Any

import structlog


class RedisState:
    def __init__(self, retry_s: float = 5.0) -> None:
        self.retry_s = retry_s
        self.down_since: float | None = None
        self.last_error: str | None = None
        self._next_try = 0.0
        self.log = structlog.get_logger("redis")

    def usable(self) -> bool:
        return self.down_since is None or time.monotonic() >= self._next_try

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            self.log.warning("redis_down_fallback", error=repr(exc)[:200],
                             fallback="in-process de-dup and rate limits; the database's unique key guards")
        self.last_error = repr(exc)[:200]
        self._next_try = now + self.retry_s

    def ok(self) -> None:
        if self.down_since is not None:
            self.log.warning("redis_back", down_s=round(time.monotonic() - self.down_since, 1))
            self.down_since = None

    def status(self) -> dict[str, Any]:
        if self.down_since is None:
            return {"state": "ok"}
        return {"state": "degraded", "down_s": round(time.monotonic() - self.down_since, 1), "error": self.last_error}
