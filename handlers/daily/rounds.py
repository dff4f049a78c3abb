"""Which reports are due when: one round on workdays, N rounds a day under 提级管理."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import local
from bot.config import Config
from bot.workdays import WorkCalendar
from models.daily import EmergencyMode


@dataclass(frozen=True)
class Slot:
    day: date  # when the reports are due
    report_date: date  # the day the reports cover
    round: int
    remind: datetime
    deadline: datetime
    emergency: bool = False

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}:{self.round}"

    def label(self) -> str:
        base = f"{self.report_date.month}月{self.report_date.day}日"
        return f"{base}第{self.round}轮" if self.emergency else base


async def emergency_for(session: AsyncSession, day: date) -> EmergencyMode | None:
    rows = await session.exec(
        select(EmergencyMode)
        .where(col(EmergencyMode.active), EmergencyMode.start <= day, EmergencyMode.end >= day)
        .order_by(col(EmergencyMode.id).desc())
    )
    return rows.first()


async def slots_for(session: AsyncSession, day: date, cfg: Config, calendar: WorkCalendar) -> list[Slot]:
    mode = await emergency_for(session, day)
    return slots_of(mode.rounds if mode is not None else None, day, cfg, calendar)


_T = EmergencyMode.__table__
ACTIVE_ROUNDS = (select(_T.c.rounds).where(_T.c.active, _T.c.start <= bindparam("day"), _T.c.end >= bindparam("day"))
                 .order_by(_T.c.id.desc()).limit(1))  # Core, built once: `emergency_for` for a hot path


def slots_of(rounds: list[Any] | None, day: date, cfg: Config, calendar: WorkCalendar) -> list[Slot]:
    """The day's slots, given the rounds of the 提级管理 in force that day (None: none is)."""
    if rounds is not None:
        return [
            Slot(day, day, i, local(day, *_hm(r["remind"])), local(day, *_hm(r["deadline"])), True)
            for i, r in enumerate(rounds, 1)
        ]
    if not calendar.is_workday(day):
        return []
    s = cfg.schedule
    return [Slot(day, calendar.previous_workday(day), 1, local(day, s.remind.hour, s.remind.minute),
                 local(day, s.deadline.hour, s.deadline.minute))]


def slot_for_post(slots: list[Slot], posted: datetime) -> Slot | None:
    """Under 提级管理 a report belongs to the first round whose deadline it meets, else the last."""
    for s in slots:
        if posted <= s.deadline:
            return s
    return slots[-1] if slots else None


def default_rounds(n: int, first: time = time(9), last: time = time(17)) -> list[dict[str, str]]:
    """N deadlines spread over the working day; each reminder half an hour before."""
    start, end = first.hour * 60 + first.minute, last.hour * 60 + last.minute
    step = (end - start) / max(n - 1, 1)
    out = []
    for i in range(n):
        m = round(start + i * step) if n > 1 else end
        out.append({"remind": _fmt(max(m - 30, 0)), "deadline": _fmt(m)})
    return out


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _hm(text: str) -> tuple[int, int]:
    h, m = text.split(":")
    return int(h), int(m)
