"""Which hazards a report says are already rectified, and by when the rest must be."""
from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from handlers.reports.parse.model import Record
from handlers.reports.parse.numbers import to_int

_DONE = re.compile(r"已(?:经)?(?:当场|现场|立即)?(?:整改|清理|配备|更换|完成|处理|修复|拆除|补齐|设置|安装|落实)|整改完毕|整改到位|当场整改|现场整改")
_PENDING = re.compile(r"限期|责令|下达|要求|停产|停止|正在|待")
_ALL = re.compile(r"均已|全部|已全部|都已")
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_ITEM_REF = re.compile(r"第\s*([\d①-⑳一二三四五六七八九十、，,和及]+)\s*[项条处]|[（(](\d+)[)）]")
_N = r"(\d+|[一二三四五六七八九十两]+)"
_DAYS = re.compile(rf"限期\s*{_N}\s*(?:个工作)?[日天]|(?<![月\d]){_N}\s*(?:个工作)?[日天](?:内|之内|以内)"
                   rf"|(?<![月\d]){_N}\s*(?:个工作)?[日天](?=整改|完成|整改完毕)")
_BY_DATE = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:前|之前|以前)")
_MONTH_END = re.compile(r"本月(?:内|底|末)")


def statuses(count: int, rect: str | None, per: list[str | None]) -> list[bool]:
    """True for each hazard the text says is rectified already."""
    done = [False] * count
    if not count:
        return done
    for i, own in enumerate(per[:count]):
        if own and _DONE.search(own) and not _PENDING.search(own):
            done[i] = True
    if not rect:
        return done
    if _ALL.search(rect) and _DONE.search(rect):
        return [True] * count
    clauses = re.split(r"[，,；;。]", rect)
    referenced = False
    for clause in clauses:
        refs = _refs(clause, count)
        if refs:
            referenced = True
            if _DONE.search(clause) and not _PENDING.search(clause):
                for i in refs:
                    done[i] = True
    if not referenced and count == 1 and _DONE.search(rect) and not _PENDING.search(rect):
        done[0] = True
    return done


def _refs(clause: str, count: int) -> list[int]:
    out: list[int] = []
    for m in _ITEM_REF.finditer(clause):
        text = m.group(1) or m.group(2) or ""
        for ch in re.split(r"[、，,和及]", text) if not any(c in _CIRCLED for c in text) else list(text):
            if ch in _CIRCLED:
                n: int | None = _CIRCLED.index(ch) + 1
            else:
                n = to_int(ch)
            if n and 1 <= n <= count:
                out.append(n - 1)
    return out


def deadline(text: str | None, found_on: date) -> date | None:
    """`限期3日内` → found + 3 days; `3月20日前` → that day; `本月内` → the month's last day."""
    if not text:
        return None
    m = _BY_DATE.search(text)
    if m:
        try:
            d = date(found_on.year, int(m.group(1)), int(m.group(2)))
        except ValueError:
            d = None
        if d:
            return d if d >= found_on else d.replace(year=d.year + 1)
    m = _DAYS.search(text)
    if m:
        days = to_int(m.group(1) or m.group(2) or m.group(3))
        if days:
            return found_on + timedelta(days=days)
    if _MONTH_END.search(text):
        return found_on.replace(day=calendar.monthrange(found_on.year, found_on.month)[1])
    return None


def deadlines(count: int, rect: str | None, per: list[str | None], found_on: date) -> list[date | None]:
    """Each hazard's deadline: its own note first, then a clause naming it (`第1项责令7日内整改`), then the
    record's general deadline (a clause naming no item)."""
    out: list[date | None] = [None] * count
    general: date | None = None
    for clause in re.split(r"[，,；;。]", rect or ""):
        refs = _refs(clause, count)
        when = deadline(clause, found_on)
        if when is None:
            continue
        if refs:
            for i in refs:
                out[i] = out[i] or when
        elif general is None:
            general = when
    for i in range(count):
        own = per[i] if i < len(per) else None
        out[i] = deadline(own, found_on) or out[i] or general
    return out


def settle(rec: Record, found_on: date) -> Record:
    """The record's `done` and `due` for hazards found on `found_on` (again only if that day changed)."""
    if rec.settled_on != found_on or len(rec.done) != len(rec.hazards):
        n = len(rec.hazards)
        rec.done = statuses(n, rec.rectification, rec.hazard_rectifications)
        rec.due = deadlines(n, rec.rectification, rec.hazard_rectifications, found_on)
        rec.settled_on = found_on
    return rec
