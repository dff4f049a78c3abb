"""The demo clock control: in simulator mode only, jump to the moments of the daily cycle or add 5 minutes,
then run whatever fell due through the scheduler's own jobs."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from bot.clock import local

JUMPS = {"14:00": time(14, 0), "15:00": time(15, 0), "16:30": time(16, 30), "16:40": time(16, 40)}
PLUS = "+5"
REAL_TRANSPORTS = ("wechaty",)


def clock_control(app: Any) -> bool:
    """Only a settable clock with no real chat transport configured: never on a live deployment."""
    return hasattr(app.clock, "set") and not any(name in REAL_TRANSPORTS for name, _ in app.transports)


def target(app: Any, jump: str) -> datetime | None:
    """The moment a jump goes to: the next such time on a workday (today if still ahead), or now + 5 minutes."""
    now = app.clock.now()
    if jump == PLUS:
        return now + timedelta(minutes=5)
    at = JUMPS.get(jump)
    if at is None:
        return None
    day = now.date()
    calendar = app.data["calendar"]
    for _ in range(30):
        when = local(day, at.hour, at.minute)
        if when > now and calendar.is_workday(day):
            return when
        day += timedelta(days=1)
    return None


async def jump(app: Any, to: str) -> datetime | None:
    """Move the clock and run every scheduled job once, as APScheduler would at that moment."""
    if not clock_control(app):
        return None
    when = target(app, to)
    if when is None:
        return None
    app.clock.set(when)
    await app.scheduler.run_all()
    if app.outbox_sender is not None:
        app.outbox_sender.wake()
    return when
