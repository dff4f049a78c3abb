"""APScheduler only triggers; jobs are plain `async def job(ctx, now)` functions that tests call directly."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import TZ, Clock

Job = Callable[[Any, Any], Awaitable[Any]]
NextDue = Callable[[Any], Awaitable[Any]]


class Scheduler:
    def __init__(self, ctx: Any, clock: Clock) -> None:
        self.ctx = ctx
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self._aps: AsyncIOScheduler | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._triggers: list[tuple[str, IntervalTrigger]] = []
        self._timers: dict[str, tuple[NextDue, float]] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._loops: list[asyncio.Task] = []
        self.log = structlog.get_logger("scheduler")

    def every(self, name: str, job: Job, seconds: float) -> None:
        self.jobs[name] = job
        self._triggers.append((name, IntervalTrigger(seconds=seconds, timezone=TZ)))

    def timer(self, name: str, job: Job, next_due: NextDue, max_wait_s: float = 1.0) -> None:
        """A job that sleeps until `next_due(ctx)` (or `wake(name)`) instead of polling on an interval; it
        looks again after `max_wait_s` at the latest, for work another process scheduled."""
        self.jobs[name] = job
        self._timers[name] = (next_due, max_wait_s)

    def wake(self, name: str) -> None:
        if name in self._wakes:
            self._wakes[name].set()

    async def loop(self, name: str) -> None:
        next_due, cap = self._timers[name]
        wake = self._wakes.setdefault(name, asyncio.Event())
        while True:
            wake.clear()
            await self.run(name)
            try:
                due = await next_due(self.ctx)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("timer_next_due_failed", job=name)
                due = None
            wait = cap if due is None else min(cap, max(0.0, (due - self.clock.now()).total_seconds()))
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)

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
        self._loops = [self.ctx.spawn(self.loop(name), f"timer:{name}") for name in self._timers]

    def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        for task in self._loops:
            task.cancel()
        self._loops = []
