"""Reports of a day, their figures, and who has not reported."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Unit
from bot.directory import Directory
from models.reports import NEEDS_REVIEW, Hazard, InspectionRecord, InspectionReport


@dataclass
class Figures:
    reports: int = 0
    teams: int = 0
    inspectors: int = 0
    enterprises: int = 0
    hazards: int = 0
    rectified: int = 0

    def add(self, other: Figures) -> None:
        for k in ("reports", "teams", "inspectors", "enterprises", "hazards", "rectified"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def line(self) -> str:
        if not self.reports:  # nothing reported is not a clean result
            return "无报送数据"
        parts = []
        if self.teams:
            parts.append(f"派出{self.teams}个检查组")
        if self.inspectors:
            parts.append(f"{self.inspectors}人次")
        parts.append(f"检查企业{self.enterprises}家")
        parts.append(f"发现隐患{self.hazards}处（已整改{self.rectified}处）" if self.hazards else "未发现问题隐患")
        return "，".join(parts)


@dataclass
class DayData:
    report_date: date
    reports: list[InspectionReport] = field(default_factory=list)
    records: dict[int, list[InspectionRecord]] = field(default_factory=dict)
    hazards: dict[int, list[Hazard]] = field(default_factory=dict)  # by record id

    def figures(self, report: InspectionReport) -> Figures:
        recs = self.records.get(report.id or 0, [])
        hz = [h for r in recs for h in self.hazards.get(r.id or 0, [])]
        names = {n for r in recs for n in r.inspectors}
        return Figures(
            reports=1,
            teams=report.teams or 0,
            inspectors=report.inspectors if report.inspectors is not None else len(names),
            enterprises=report.enterprises if report.enterprises is not None else len(recs),
            hazards=report.hazards if report.hazards is not None else len(hz),
            rectified=report.rectified if report.rectified is not None else sum(h.status != "open" for h in hz),
        )


async def load_day(session: AsyncSession, report_date: date, round_no: int | None = None) -> DayData:
    q = select(InspectionReport).where(col(InspectionReport.active), InspectionReport.report_date == report_date)
    if round_no is not None:
        q = q.where(InspectionReport.round == round_no)
    reports = list((await session.exec(q.order_by(col(InspectionReport.id)))).all())
    # a garbled re-post stays 待核对 beside the readable report it did not replace: the readable one counts
    readable = {(r.unit_id or r.region, r.round) for r in reports if r.status != NEEDS_REVIEW}
    reports = [r for r in reports if r.status != NEEDS_REVIEW or (r.unit_id or r.region, r.round) not in readable]
    data = DayData(report_date, reports)
    ids = [r.id for r in reports]
    if not ids:
        return data
    for rec in (await session.exec(select(InspectionRecord).where(col(InspectionRecord.report_id).in_(ids))
                                   .order_by(col(InspectionRecord.report_id), col(InspectionRecord.seq)))).all():
        data.records.setdefault(rec.report_id, []).append(rec)
    for hz in (await session.exec(select(Hazard).where(col(Hazard.report_id).in_(ids)).order_by(col(Hazard.id)))).all():
        data.hazards.setdefault(hz.record_id, []).append(hz)
    return data


def missing_units(directory: Directory, reported_unit_ids: set[str | None]) -> list[Unit]:
    return [u for u in directory.reporting_units() if u.id not in reported_unit_ids]


def registered_ids(reports: list[InspectionReport]) -> set[str | None]:
    """Units whose report counts as reported: a 待核对 report does not until it is re-posted readably."""
    return {r.unit_id for r in reports if r.status != NEEDS_REVIEW}


def reviewing_ids(reports: list[InspectionReport]) -> set[str | None]:
    """Units whose only report is 待核对 (could not be read)."""
    return {r.unit_id for r in reports if r.status == NEEDS_REVIEW} - registered_ids(reports)


def unit_label(unit: Unit, reviewing: set[str | None]) -> str:
    return unit.name + ("（待核对）" if unit.id in reviewing else "")


def by_city(directory: Directory, data: DayData) -> dict[str, Figures]:
    """Figures per 市州 (counties folded into their city), 省本级 first; a 待核对 report is not counted (its unit is
    listed as not reported, 待核对, until it posts a readable report)."""
    out: dict[str, Figures] = defaultdict(Figures)
    for rep in data.reports:
        if rep.status != NEEDS_REVIEW:
            out[directory.city_of(rep.region)].add(data.figures(rep))
    return dict(out)
