"""The one time source. Logic takes a Clock; it never asks the system for the time."""
from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(TZ)


class FakeClock:
    """A clock for tests: it moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(TZ)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(TZ)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


def local(d: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=TZ)



class DemoClock:
    """The system clock plus an offset that only moves forward: the simulator demo jumps to 14:00 and on. With
    `state`, the time it was moved to is kept in that file, so a restart does not turn the demo back."""

    def __init__(self, state: Path | None = None) -> None:
        self._offset = timedelta()
        self._state = state
        if state is not None and state.exists():
            with contextlib.suppress(ValueError):  # a damaged file: the real time
                self.set(datetime.fromisoformat(state.read_text().strip()))

    def now(self) -> datetime:
        return datetime.now(TZ) + self._offset

    def set(self, when: datetime) -> None:
        self._offset += max(when - self.now(), timedelta())
        if self._state is not None:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            self._state.write_text(self.now().isoformat())
