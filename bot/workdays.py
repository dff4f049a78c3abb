"""Official workdays with 调休 (chinese-calendar), config overrides, and a Mon–Fri fallback."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar


class WorkCalendar:
    def __init__(self, extra_workdays: Iterable[date] = (), extra_holidays: Iterable[date] = ()) -> None:
        self.extra_workdays = frozenset(extra_workdays)
        self.extra_holidays = frozenset(extra_holidays)
        self._known: dict[date, bool] = {}  # the library's answer is slow for a question asked per report

    def covered(self, year: int) -> bool:
        """Does the library know this year's official holidays?"""
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def is_workday(self, d: date) -> bool:
        known = self._known.get(d)
        if known is None:
            known = self._known[d] = self._is_workday(d)
        return known

    def _is_workday(self, d: date) -> bool:
        if d in self.extra_workdays:
            return True
        if d in self.extra_holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            return d.weekday() < 5

    def previous_workday(self, d: date) -> date:
        """The last workday strictly before d."""
        d -= timedelta(days=1)
        for _ in range(60):
            if self.is_workday(d):
                return d
            d -= timedelta(days=1)
        return d

    def workdays(self, start: date, end: date) -> list[date]:
        out, d = [], start
        while d <= end:
            if self.is_workday(d):
                out.append(d)
            d += timedelta(days=1)
        return out
