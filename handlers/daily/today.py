"""Today's round(s) at a glance: every unit owing a report, by city, with its status (挂图作战)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Config, Unit
from bot.directory import Directory
from bot.dispatch.intake import full_texts
from bot.regions import PROVINCE_LEVEL
from bot.workdays import WorkCalendar
from handlers.daily.figures import DayData
from handlers.daily.rounds import Slot, slots_for
from models.core import RawMessage
from models.reports import NEEDS_REVIEW, Hazard, InspectionRecord, InspectionReport

STATUS_NAMES = {"on_time": "按时", "late": "迟报", "corrected": "已更正", "review": "待核对", "missing": "未报"}


@dataclass
class UnitStatus:
    unit: Unit
    status: str
    report: InspectionReport | None = None

    @property
    def label(self) -> str:
        return STATUS_NAMES[self.status]


@dataclass
class CityTile:
    city: str
    units: list[UnitStatus] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(u.status for u in self.units)

    @property
    def reported(self) -> int:
        return sum(u.status in ("on_time", "late", "corrected") for u in self.units)  # 待核对 is not in yet


@dataclass
class RoundBoard:
    slot: Slot
    tiles: list[CityTile]
    counts: Counter[str]
    seconds_left: float  # to the deadline; negative once past


@dataclass
class TodayBoard:
    now: datetime
    rounds: list[RoundBoard]


def report_status(report: InspectionReport | None) -> str:
    """The one place a report's standing is named: 待核对 outranks 已更正 outranks 迟报."""
    if report is None:
        return "missing"
    if report.status == NEEDS_REVIEW:
        return "review"
    if report.corrected:
        return "corrected"
    return "late" if report.late else "on_time"


def city_order(directory: Directory) -> list[str]:
    """省本级 first, then the 市州 in the region file's order."""
    return [PROVINCE_LEVEL, *(r.key for r in directory.regions.cities())]


async def round_board(session: AsyncSession, directory: Directory, slot: Slot, now: datetime) -> RoundBoard:
    reports = (await session.exec(
        select(InspectionReport).where(col(InspectionReport.active), InspectionReport.report_date == slot.report_date,
                                       InspectionReport.round == slot.round)
    )).all()
    by_unit: dict[str, InspectionReport] = {}
    for r in sorted(reports, key=lambda r: (r.status != NEEDS_REVIEW, r.id or 0)):
        if r.unit_id:
            by_unit[r.unit_id] = r  # a readable report wins over a 待核对 one; the latest of each kind
    tiles = {c: CityTile(c) for c in city_order(directory)}
    for unit in directory.reporting_units():
        report = by_unit.get(unit.id)
        city = directory.city_of(unit.region)
        tiles.setdefault(city, CityTile(city)).units.append(UnitStatus(unit, report_status(report), report))
    counts: Counter[str] = Counter()
    for t in tiles.values():
        counts.update(t.counts)
    return RoundBoard(slot, list(tiles.values()), counts, (slot.deadline - now).total_seconds())


async def today_board(session: AsyncSession, directory: Directory, cfg: Config, calendar: WorkCalendar,
                      now: datetime) -> TodayBoard:
    """Every round due today (one on a workday, N under 提级管理); none on a day off."""
    slots = await slots_for(session, now.date(), cfg, calendar)
    return TodayBoard(now, [await round_board(session, directory, s, now) for s in slots])


@dataclass
class ReportView:
    report: InspectionReport
    raw_text: str
    data: DayData


async def unit_report(session: AsyncSession, unit_id: str, slot: Slot) -> ReportView | None:
    """A unit's report for the round, as posted (the raw message) and as parsed (records and hazards)."""
    report = (await session.exec(
        select(InspectionReport).where(col(InspectionReport.active), InspectionReport.unit_id == unit_id,
                                       InspectionReport.report_date == slot.report_date,
                                       InspectionReport.round == slot.round)
        .order_by(col(InspectionReport.status) == NEEDS_REVIEW, col(InspectionReport.id).desc())
    )).first()
    if report is None:
        return None
    raw = await session.get(RawMessage, report.raw_message_id) if report.raw_message_id else None
    data = DayData(report.report_date, [report])
    records = (await session.exec(select(InspectionRecord).where(InspectionRecord.report_id == report.id)
                                  .order_by(col(InspectionRecord.seq)))).all()
    data.records[report.id or 0] = list(records)
    for hz in (await session.exec(select(Hazard).where(Hazard.report_id == report.id).order_by(col(Hazard.id)))).all():
        data.hazards.setdefault(hz.record_id, []).append(hz)
    text = (await full_texts(session, [raw])).get(raw.id or 0, raw.text) if raw else "（原文未保存）"
    return ReportView(report, text, data)
