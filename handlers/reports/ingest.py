"""Keep a parsed report: the report, its records, one hazard row per hazard, and their history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import local
from bot.config import Config, Person, Unit
from bot.directory import Directory
from bot.workdays import WorkCalendar
from handlers.reports.parse import Report
from handlers.reports.status import deadlines, statuses
from models.reports import NEEDS_REVIEW, Hazard, HazardEvent, InspectionRecord, InspectionReport


@dataclass
class Ingested:
    report: InspectionReport
    corrected: bool
    open_ids: list[int]
    rectified: int
    hazards: int


def resolve_unit(parsed: Report, person: Person | None, directory: Directory) -> Unit | None:
    """The configured unit the report is for: by the region it names, else the poster's unit."""
    region = directory.regions.canonical(parsed.region)
    if region:
        bureaus = [u for u in directory.cfg.units if u.region == region and u.kind == "bureau"]
        if bureaus:
            return bureaus[0]
    return directory.unit_of(person)


def report_deadline(day: date, cfg: Config, calendar: WorkCalendar) -> datetime:
    """A day's report is due at the deadline on the next workday after it."""
    due = day + timedelta(days=1)
    while not calendar.is_workday(due):
        due += timedelta(days=1)
    return local(due, cfg.schedule.deadline.hour, cfg.schedule.deadline.minute)


async def store_report(
    session: AsyncSession,
    parsed: Report,
    *,
    unit: Unit | None,
    posted_by: str,
    posted_at: datetime,
    raw_id: int | None,
    late: bool,
    source: str,
    problems: list[str],
    round_no: int = 1,
    review: str | None = None,
) -> Ingested:
    region = unit.region if unit else parsed.region
    previous = (
        await session.exec(
            select(InspectionReport).where(
                col(InspectionReport.active),
                InspectionReport.report_date == parsed.date,
                InspectionReport.round == round_no,
                (InspectionReport.unit_id == unit.id) if unit else (InspectionReport.region == region),
            )
        )
    ).all()
    report = InspectionReport(
        unit_id=unit.id if unit else None,
        unit_name=parsed.unit or (unit.name if unit else None),
        region=region,
        report_date=parsed.date,
        round=round_no,
        posted_by=posted_by,
        posted_at=posted_at,
        raw_message_id=raw_id,
        source=source,
        late=late,
        corrected=bool(previous),
        problems=problems,
        status=NEEDS_REVIEW if review else "registered",
        review_reason=review[:200] if review else None,
        **{k: parsed.totals.get(k) for k in ("teams", "inspectors", "enterprises", "hazards", "rectified")},
    )
    session.add(report)
    await session.flush()
    for old in previous:
        old.active = False
        old.superseded_by = report.id
        session.add(old)
        await _supersede_hazards(session, old.id, posted_by, posted_at, report.id)
    # records, hazards and their first events as three bulk inserts, not a flush per row
    conn = await session.connection()
    records = [{"report_id": report.id, "seq": seq, "enterprise": rec.enterprise[:200],
                "inspecting_unit": rec.inspecting_unit, "location": rec.location, "domain": rec.domain,
                "inspectors": rec.inspectors, "rectification": rec.rectification, "hazard_count": len(rec.hazards)}
               for seq, rec in enumerate(parsed.records, 1)]
    record_ids = await _insert_returning_ids(conn, InspectionRecord, records)
    hazards: list[dict[str, Any]] = []
    for rec, record_id in zip(parsed.records, record_ids, strict=True):
        done = statuses(len(rec.hazards), rec.rectification, rec.hazard_rectifications)
        due = deadlines(len(rec.hazards), rec.rectification, rec.hazard_rectifications, parsed.date)
        for i, text in enumerate(rec.hazards):
            own = rec.hazard_rectifications[i] if i < len(rec.hazard_rectifications) else None
            hazards.append({"report_id": report.id, "record_id": record_id, "unit_id": report.unit_id,
                            "region": region, "enterprise": rec.enterprise[:200], "domain": rec.domain, "text": text,
                            "found_on": parsed.date, "status": "rectified" if done[i] else "open",
                            "deadline": None if done[i] else due[i],
                            "rectification": own or rec.rectification, "created_at": posted_at})
    hazard_ids = await _insert_returning_ids(conn, Hazard, hazards)
    if hazards:
        await conn.execute(insert(HazardEvent), [
            {"hazard_id": hid, "at": posted_at, "actor": posted_by, "note": hz["rectification"],
             "action": "found" if hz["status"] == "open" else "rectified"} for hid, hz in zip(hazard_ids, hazards, strict=True)])
    open_ids = [hid for hid, hz in zip(hazard_ids, hazards, strict=True) if hz["status"] == "open"]
    total = len(hazards)
    rectified = total - len(open_ids)
    return Ingested(report, bool(previous), open_ids, rectified, total)


async def _insert_returning_ids(conn: Any, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """One multi-row INSERT … RETURNING id, ids in the order of `rows`."""
    if not rows:
        return []
    result = await conn.execute(insert(table).returning(table.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


async def _supersede_hazards(session: AsyncSession, report_id: int | None, actor: str, at: datetime, new_id: int | None) -> None:
    conn = await session.connection()
    ids = (await conn.execute(select(Hazard.id).where(Hazard.report_id == report_id))).scalars().all()
    if ids:
        await conn.execute(insert(HazardEvent), [{"hazard_id": hid, "at": at, "actor": actor, "action": "superseded",
                                                  "note": f"被第{new_id}号报告更正"} for hid in ids])
    await session.exec(
        update(Hazard).where(col(Hazard.report_id) == report_id).values(status="superseded")
    )


async def reports_to_review(session: AsyncSession, since: date | None = None) -> list[InspectionReport]:
    """Active 待核对 reports (oldest first): what the command centre still has to check or chase."""
    q = select(InspectionReport).where(col(InspectionReport.active), InspectionReport.status == NEEDS_REVIEW)
    if since is not None:
        q = q.where(InspectionReport.report_date >= since)
    return list((await session.exec(q.order_by(col(InspectionReport.posted_at)))).all())
