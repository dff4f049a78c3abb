"""APScheduler only triggers; jobs are plain `async def job(ctx, now)` functions that tests call directly."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import TZ, Clock

Job = Callable[[Any, Any], Awaitable[Any]]


class Scheduler:
    def __init__(self, ctx: Any, clock: Clock) -> None:
        self.ctx = ctx
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self._aps: AsyncIOScheduler | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._triggers: list[tuple[str, IntervalTrigger]] = []
        self.log = structlog.get_logger("scheduler")

    def every(self, name: str, job: Job, seconds: float) -> None:
        self.jobs[name] = job
        self._triggers.append((name, IntervalTrigger(seconds=seconds, timezone=TZ)))

    async def run(self, name: str) -> Any:
        """Run one job now with the clock's time; overlapping runs of the same job are skipped."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            return None
        async with lock:
            try:
                return await self.jobs[name](self.ctx, self.clock.now())
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("job_failed", job=name)
                return None

    async def run_all(self) -> None:
        for name in self.jobs:
            await self.run(name)

    def start(self) -> None:
        self._aps = AsyncIOScheduler(timezone=TZ)
        for name, trigger in self._triggers:
            self._aps.add_job(self.run, trigger, args=[name], id=name, max_instances=1, coalesce=True)
        self._aps.start()

    def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
