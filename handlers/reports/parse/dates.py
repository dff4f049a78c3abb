"""The inspection date a report is about."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from handlers.reports.parse.numbers import to_int

_FULL = re.compile(r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*[月.\-/]\s*(\d{1,2})\s*日?")
_MONTH_DAY = re.compile(r"(?<!\d)(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*[日号]")
_DOTTED = re.compile(r"(?<![\d./])(\d{1,2})[./](\d{1,2})(?![\d./]|\s*[米吨个％%])")
_DAY = re.compile(r"(?<![\d月.限期内第至到])(\d{1,2})\s*[日号](?![内前后以起])")
_RELATIVE = (
    (re.compile(r"前一日|前一天|昨日|昨天"), -1),
    (re.compile(r"前日|前天"), -2),
    (re.compile(r"今日|今天|当日|当天|本日"), 0),
)


def find_date(text: str, at: datetime) -> date | None:
    """The first date stated in `text` (a report's header), read against the posting time."""
    candidates: list[tuple[int, date]] = []
    for m in _FULL.finditer(text):
        d = _safe(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d:
            candidates.append((m.start(), d))
    for m in _MONTH_DAY.finditer(text):
        mon, day = to_int(m.group(1)), to_int(m.group(2))
        d = _with_year(mon, day, at)
        if d:
            candidates.append((m.start(), d))
    for m in _DOTTED.finditer(text):
        d = _with_year(int(m.group(1)), int(m.group(2)), at)
        if d:
            candidates.append((m.start(), d))
    for pattern, offset in _RELATIVE:
        for m in pattern.finditer(text):
            candidates.append((m.start(), at.date() + timedelta(days=offset)))
    if not candidates:
        for m in _DAY.finditer(text):
            day = int(m.group(1))
            d = _safe(at.year, at.month, day)
            if d and d > at.date():  # "28日" posted on the 2nd means last month
                prev = (at.replace(day=1) - timedelta(days=1)).date()
                d = _safe(prev.year, prev.month, day)
            if d:
                candidates.append((m.start(), d))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[0])[1]


def _with_year(month: int | None, day: int | None, at: datetime) -> date | None:
    if not month or not day:
        return None
    d = _safe(at.year, month, day)
    if d and d > at.date() + timedelta(days=31):  # "12月30日" posted in January
        d = _safe(at.year - 1, month, day)
    return d


def _safe(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None
