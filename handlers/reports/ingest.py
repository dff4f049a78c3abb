"""Keep a parsed report: the report, its records, one hazard row per hazard, and their history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import col
from sqlmodel import select as model_select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import local
from bot.config import Config, Person, Unit
from bot.directory import Directory
from bot.workdays import WorkCalendar
from handlers.daily.rounds import Slot, slot_for_post
from handlers.reports.parse import ParseResult, Report
from handlers.reports.status import deadlines, statuses
from models.db import insert_ids
from models.reports import NEEDS_REVIEW, Hazard, HazardEvent, InspectionRecord, InspectionReport


@dataclass
class Ingested:
    report: Any  # the stored row's values as attributes (id included)
    corrected: bool
    open_ids: list[int]
    rectified: int
    hazards: int


@dataclass
class Draft:
    """One parsed report about to be stored, with where it belongs."""

    parsed: Report
    unit: Unit | None
    posted_by: str
    posted_at: datetime
    raw_id: int | None
    late: bool
    source: str
    problems: list[str]
    round_no: int = 1
    review: str | None = None

    @property
    def region(self) -> str | None:
        return self.unit.region if self.unit else self.parsed.region

    @property
    def key(self) -> tuple[str, str | None, date, int]:
        """What a later report replaces: the same unit (else region), day and round."""
        return ("unit", self.unit.id, self.parsed.date, self.round_no) if self.unit else \
            ("region", self.region, self.parsed.date, self.round_no)


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


def place(parsed: ParseResult, at: datetime, slots: list[Slot], cfg: Config, calendar: WorkCalendar) -> tuple[int, bool]:
    """(round, late) of a report posted at `at`. Under 提级管理 it belongs to the round it meets, and an
    undated report is about today (the parse is corrected to say so)."""
    assert parsed.report is not None
    if slots and slots[0].emergency:
        slot = slot_for_post(slots, at)
        assert slot is not None
        if not parsed.report.dated:
            parsed.report.date = at.date()
            parsed.problems = [p for p in parsed.problems if p != "未注明检查日期"]
        return slot.round, at > slot.deadline
    return 1, at > report_deadline(parsed.report.date, cfg, calendar)


async def store_report(session: AsyncSession, parsed: Report, *, unit: Unit | None, posted_by: str,
                       posted_at: datetime, raw_id: int | None, late: bool, source: str, problems: list[str],
                       round_no: int = 1, review: str | None = None) -> Ingested:
    draft = Draft(parsed, unit, posted_by, posted_at, raw_id, late, source, problems, round_no, review)
    return (await store_reports(await session.connection(), [draft]))[0]


async def store_reports(conn: Any, drafts: list[Draft]) -> list[Ingested]:
    """Store reports in the caller's transaction with a few bulk statements for all of them: the reports,
    their records, one row per hazard and its first event. A report replaces the active one of its unit,
    day and round (its hazards are superseded); several of one key in `drafts` replace each other in turn,
    as if they had come one by one."""
    if not drafts:
        return []
    R = InspectionReport.__table__
    # every active report of those days (a few hundred at most), matched to the keys here: one statement
    # whatever the batch, compiled once
    rows = (await conn.execute(select(R.c.id, R.c.unit_id, R.c.region, R.c.report_date, R.c.round)
                               .where(R.c.active, R.c.report_date.in_(bindparam("days", expanding=True))),
                               {"days": sorted({d.parsed.date for d in drafts})})).all()
    previous: dict[Any, list[int]] = {}
    for r in rows:
        for k in (("unit", r.unit_id, r.report_date, r.round), ("region", r.region, r.report_date, r.round)):
            previous.setdefault(k, []).append(r.id)
    seen: set[Any] = set()
    corrected = []
    for d in drafts:
        corrected.append(d.key in seen or bool(previous.get(d.key)))
        seen.add(d.key)
    reports = []
    for d, fixed in zip(drafts, corrected, strict=True):
        p, unit = d.parsed, d.unit
        reports.append({
            "unit_id": unit.id if unit else None, "unit_name": p.unit or (unit.name if unit else None),
            "region": d.region, "report_date": p.date, "round": d.round_no, "posted_by": d.posted_by,
            "posted_at": d.posted_at, "raw_message_id": d.raw_id, "source": d.source, "late": d.late,
            "corrected": fixed, "active": True, "superseded_by": None,
            "problems": d.problems, "status": NEEDS_REVIEW if d.review else "registered",
            "review_reason": d.review[:200] if d.review else None,
            **{k: p.totals.get(k) for k in ("teams", "inspectors", "enterprises", "hazards", "rectified")}})
    report_ids = await insert_ids(conn, InspectionReport, reports)
    replaced: dict[int, int] = {}  # old id → the report replacing it (once, should two keys find it)
    last: dict[Any, int] = {}
    for d, rid in zip(drafts, report_ids, strict=True):
        if d.key in last:
            replaced[last[d.key]] = rid
        else:
            for old in previous.get(d.key, ()):
                replaced.setdefault(old, rid)
        last[d.key] = rid
    records = [{"report_id": rid, "seq": seq, "enterprise": rec.enterprise[:200],
                "inspecting_unit": rec.inspecting_unit, "location": rec.location, "domain": rec.domain,
                "inspectors": rec.inspectors, "rectification": rec.rectification, "hazard_count": len(rec.hazards)}
               for d, rid in zip(drafts, report_ids, strict=True) for seq, rec in enumerate(d.parsed.records, 1)]
    record_ids = iter(await insert_ids(conn, InspectionRecord, records))
    hazards: list[dict[str, Any]] = []
    owner: list[int] = []  # the draft each hazard belongs to
    for n, (d, rid) in enumerate(zip(drafts, report_ids, strict=True)):
        p = d.parsed
        for rec in p.records:
            record_id = next(record_ids)
            done = statuses(len(rec.hazards), rec.rectification, rec.hazard_rectifications)
            due = deadlines(len(rec.hazards), rec.rectification, rec.hazard_rectifications, p.date)
            for i, text in enumerate(rec.hazards):
                own = rec.hazard_rectifications[i] if i < len(rec.hazard_rectifications) else None
                hazards.append({"report_id": rid, "record_id": record_id, "unit_id": reports[n]["unit_id"],
                                "region": d.region, "enterprise": rec.enterprise[:200], "domain": rec.domain,
                                "text": text, "found_on": p.date, "status": "rectified" if done[i] else "open",
                                "deadline": None if done[i] else due[i], "rectification": own or rec.rectification,
                                "created_at": d.posted_at})
                owner.append(n)
    hazard_ids = await insert_ids(conn, Hazard, hazards)
    if hazards:
        await conn.execute(insert(HazardEvent), [
            {"hazard_id": hid, "at": hz["created_at"], "actor": drafts[n].posted_by, "note": hz["rectification"],
             "action": "found" if hz["status"] == "open" else "rectified"}
            for hid, hz, n in zip(hazard_ids, hazards, owner, strict=True)])
    if replaced:  # after the new hazards: a report replaced in this same batch has its hazards superseded too
        await _supersede(conn, replaced, {rid: d for d, rid in zip(drafts, report_ids, strict=True)})
    out = [Ingested(SimpleNamespace(id=rid, **reports[n]), corrected[n], [], 0, 0) for n, rid in enumerate(report_ids)]
    for hid, hz, n in zip(hazard_ids, hazards, owner, strict=True):
        out[n].hazards += 1
        if hz["status"] == "open":
            out[n].open_ids.append(hid)
        else:
            out[n].rectified += 1
    return out


async def _supersede(conn: Any, new_of: dict[int, int], who: dict[int, Draft]) -> None:
    """Older reports of the same key are no longer active; their hazards are superseded, each with an event."""
    R, H = InspectionReport.__table__, Hazard.__table__
    await conn.execute(update(R).where(R.c.id == bindparam("old")).values(active=False, superseded_by=bindparam("new")),
                       [{"old": old, "new": new} for old, new in new_of.items()])
    olds = {"olds": list(new_of)}
    ids = (await conn.execute(select(H.c.id, H.c.report_id).where(H.c.report_id.in_(bindparam("olds", expanding=True))),
                              olds)).all()
    if ids:
        await conn.execute(insert(HazardEvent), [
            {"hazard_id": hid, "at": who[new_of[old]].posted_at, "actor": who[new_of[old]].posted_by,
             "action": "superseded", "note": f"被第{new_of[old]}号报告更正"} for hid, old in ids])
    await conn.execute(update(H).where(H.c.report_id.in_(bindparam("olds", expanding=True))).values(status="superseded"),
                       olds)


async def reports_to_review(session: AsyncSession, since: date | None = None) -> list[InspectionReport]:
    """Active 待核对 reports (oldest first): what the command centre still has to check or chase."""
    q = model_select(InspectionReport).where(col(InspectionReport.active), InspectionReport.status == NEEDS_REVIEW)
    if since is not None:
        q = q.where(InspectionReport.report_date >= since)
    return list((await session.exec(q.order_by(col(InspectionReport.posted_at)))).all())
