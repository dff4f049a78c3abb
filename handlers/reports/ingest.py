"""Keep a parsed report: the report, its records, one hazard row per hazard, and their history."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, literal, select, update
from sqlmodel import col
from sqlmodel import select as model_select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import local
from bot.config import Config, Person, Unit
from bot.directory import Directory
from bot.workdays import WorkCalendar
from handlers.daily.rounds import Slot, slot_for_post
from handlers.reports.parse import ParseResult, Report
from handlers.reports.parse.status import settle
from models.bulk import Raw, Writes, read_all, reserve_ids
from models.reports import NEEDS_REVIEW, Hazard, HazardEvent, InspectionRecord, InspectionReport


@dataclass
class Ingested:
    report: Any  # the stored row's values as attributes (id included)
    corrected: bool
    open_ids: list[int]
    rectified: int
    hazards: int
    kept_closed: list[tuple[int, int]] = field(default_factory=list)  # (new hazard, the closed one it continues)
    closed_lost: list[int] = field(default_factory=list)  # closed hazards of the replaced report not found again
    beside_readable: bool = False  # a 待核对 one kept beside the readable report of its unit, day and round
    withdrawn: list[int] = field(default_factory=list)  # open hazards of the replaced report not in this one


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
    return (directory.bureau(region) if region else None) or directory.unit_of(person)


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
    # a rest day's inspections are not due: reported, they are never late
    return 1, calendar.is_workday(parsed.report.date) and at > report_deadline(parsed.report.date, cfg, calendar)


async def store_report(session: AsyncSession, parsed: Report, *, unit: Unit | None, posted_by: str,
                       posted_at: datetime, raw_id: int | None, late: bool, source: str, problems: list[str],
                       round_no: int = 1, review: str | None = None) -> Ingested:
    draft = Draft(parsed, unit, posted_by, posted_at, raw_id, late, source, problems, round_no, review)
    return (await store_reports(await session.connection(), [draft]))[0]


async def store_reports(conn: Any, drafts: list[Draft], writes: Writes | None = None, *,
                        active: list[tuple[Any, ...]] | None = None,
                        ids: dict[str, list[int]] | None = None) -> list[Ingested]:
    """Store reports in the caller's transaction: the reports, their records, one row per hazard and its
    first event, planned in Python and written in one go (`models.bulk`). A report replaces the active one
    of its unit, day and round (its hazards are superseded), unless it is itself 待核对 and the active one is
    not; several of one key in `drafts` replace each other in turn, as if they had come one by one. With
    `writes`, the rows join the caller's writes and go when it flushes them; without, they are written before
    this returns. `active` (the active reports of the drafts' days, as `ACTIVE_REPORTS` reads them) and `ids`
    (reserved) when the caller read them already."""
    if not drafts:
        return []
    own = writes is None
    writes = writes or Writes(conn)
    R = InspectionReport.__table__
    # every active report of those days (a few hundred at most), matched to the keys here: one statement
    # whatever the batch, compiled once
    if active is None:
        active = (await read_all(conn, [(ACTIVE_REPORTS, {"days": sorted({d.parsed.date for d in drafts})})]))[0]
    # per key, the active reports (id, 待核对?) in the order they came
    live: dict[Any, list[tuple[int, bool]]] = {}
    for r_id, unit_id, region, day, round_no, status in active:
        for k in (("unit", unit_id, day, round_no), ("region", region, day, round_no)):
            live.setdefault(k, []).append((r_id, status == NEEDS_REVIEW))
    n_records = sum(len(d.parsed.records) for d in drafts)
    n_hazards = sum(len(rec.hazards) for d in drafts for rec in d.parsed.records)
    ids = ids or await reserve_ids(conn, {R: len(drafts), InspectionRecord: n_records, Hazard: n_hazards})
    report_ids = ids[R.name]
    record_ids = iter(ids.get(InspectionRecord.__tablename__, ()))
    hazard_ids = iter(ids.get(Hazard.__tablename__, ()))
    # a report replaces the active ones of its key, those before it in `drafts` included; a 待核对 one (not
    # counted as reported until it is posted again in full) replaces only 待核对 ones: a readable report is
    # never lost to a garbled re-post
    replaced: dict[int, int] = {}  # old id → the report replacing it (once, should two keys find it)
    corrected, beside = [], []
    for d, rid in zip(drafts, report_ids, strict=True):
        now = live.setdefault(d.key, [])
        gone = [r for r in now if r[1] or not d.review]
        corrected.append(bool(gone))
        beside.append(any(not r[1] for r in now if r not in gone))
        for old, _ in gone:
            replaced.setdefault(old, rid)
        now[:] = [r for r in now if r not in gone] + [(rid, bool(d.review))]
    who = {rid: d for d, rid in zip(drafts, report_ids, strict=True)}
    # the replaced reports' hazards are superseded now, not with the rest, and the update returns the ones that
    # were open or closed: a hazard already closed (销号) stays closed in the report that corrects its report
    # (the same enterprise and text, re-posted as the bot asks: 补全后整条重发, must not come back open), and an
    # open one the correction leaves out is named
    closed_before: dict[Any, dict[tuple[str, str], tuple[Any, ...]]] = {}
    open_before: dict[Any, dict[tuple[str, str], int]] = {}
    if earlier := sorted(old for old in replaced if old not in who):
        for row in await _supersede_hazards(conn, earlier):
            report_id, hazard_id, status, enterprise, text = row[:5]
            into = closed_before if status == "closed" else open_before
            into.setdefault(who[replaced[report_id]].key, {}).setdefault(
                (enterprise, text), row if status == "closed" else hazard_id)
    reports, records, hazards, events, gone_events = [], [], [], [], []
    out = []
    for d, fixed, kept_beside, rid in zip(drafts, corrected, beside, report_ids, strict=True):
        p, unit = d.parsed, d.unit
        unit_id = unit.id if unit else None
        # replaced within this batch: written as it ends up, not written and then updated
        by = replaced.get(rid)
        report = {
            "id": rid, "unit_id": unit_id, "unit_name": p.unit or (unit.name if unit else None),
            "region": d.region, "report_date": p.date, "round": d.round_no, "posted_by": d.posted_by,
            "posted_at": d.posted_at, "raw_message_id": d.raw_id, "source": d.source, "late": d.late,
            "corrected": fixed, "active": by is None, "superseded_by": by,
            "problems": d.problems, "status": NEEDS_REVIEW if d.review else "registered",
            "review_reason": d.review[:200] if d.review else None,
            **{k: p.totals.get(k) for k in ("teams", "inspectors", "enterprises", "hazards", "rectified")}}
        reports.append(report)
        done_report = Ingested(SimpleNamespace(**report), fixed, [], 0, 0, beside_readable=kept_beside)
        out.append(done_report)
        closed_here = dict(closed_before.get(d.key, {}))  # each closed hazard continues once in this report
        open_here = dict(open_before.get(d.key, {})) if not by else {}
        for seq, rec in enumerate(p.records, 1):
            record_id = next(record_ids)
            enterprise = rec.enterprise[:200]
            records.append({"id": record_id, "report_id": rid, "seq": seq, "enterprise": enterprise,
                            "inspecting_unit": rec.inspecting_unit, "location": rec.location, "domain": rec.domain,
                            "inspectors": rec.inspectors, "rectification": rec.rectification,
                            "hazard_count": len(rec.hazards)})
            if not rec.hazards:
                continue
            settle(rec, p.date)  # read with the report already, unless its day was set since
            done, due = rec.done, rec.due
            for i, text in enumerate(rec.hazards):
                hid = next(hazard_ids)
                own_note = rec.hazard_rectifications[i] if i < len(rec.hazard_rectifications) else None
                note = own_note or rec.rectification
                kept = None if by else closed_here.pop((enterprise, text), None)
                open_here.pop((enterprise, text), None)
                _, old_id, _, _, _, closed_at, closed_by, evidence = kept or (None,) * 8
                hazards.append({"id": hid, "report_id": rid, "record_id": record_id, "unit_id": unit_id,
                                "region": report["region"], "enterprise": enterprise, "domain": rec.domain,
                                "text": text, "found_on": p.date,
                                "status": "superseded" if by else "closed" if kept else "rectified" if done[i] else "open",
                                "deadline": None if done[i] or kept else due[i], "rectification": note,
                                "closed_at": closed_at, "closed_by": closed_by, "evidence": evidence,
                                "created_at": d.posted_at})
                events.append({"hazard_id": hid, "at": d.posted_at, "actor": d.posted_by, "note": note,
                               "action": "rectified" if done[i] else "found"})
                if kept:
                    events.append({"hazard_id": hid, "at": d.posted_at, "actor": closed_by, "action": "closed",
                                   "note": f"沿用#{old_id}的销号：{evidence or ''}"[:500]})
                    done_report.kept_closed.append((hid, old_id))
                if by:
                    gone_events.append(_gone(hid, who[by], by))
                done_report.hazards += 1
                if done[i] or kept:
                    done_report.rectified += 1
                else:
                    done_report.open_ids.append(hid)
        if not by:  # worded otherwise now (or gone): the reporter must hear the 销号 no longer holds
            done_report.closed_lost = sorted(row[1] for row in closed_here.values())
            done_report.withdrawn = sorted(open_here.values())
    writes.insert(R, reports)
    writes.insert(InspectionRecord, records)
    writes.insert(Hazard, hazards)
    writes.insert(HazardEvent, events + gone_events)  # each hazard's 'found' before its 'superseded'
    if olds := [{"old": old, "new": new, "at": who[new].posted_at, "actor": who[new].posted_by,
                 "note": _note(new)} for old, new in sorted(replaced.items()) if old not in who]:
        # reports of earlier batches, already stored
        writes.run(_SUPERSEDE_REPORT, olds)
        writes.run(_SUPERSEDED_EVENTS, olds)
    if own:
        await writes.flush()
    return out


def _note(new: int) -> str:
    return f"被第{new}号报告更正"


def _gone(hazard_id: int, d: Draft, new: int) -> dict[str, Any]:
    return {"hazard_id": hazard_id, "at": d.posted_at, "actor": d.posted_by, "note": _note(new), "action": "superseded"}


_R, _H, _E = InspectionReport.__table__, Hazard.__table__, HazardEvent.__table__
ACTIVE_REPORTS = Raw(select(_R.c.id, _R.c.unit_id, _R.c.region, _R.c.report_date, _R.c.round, _R.c.status)
                     .where(_R.c.active, _R.c.report_date.in_(bindparam("days", expanding=True))))


# `= ANY($1)` besides the join: an index lookup of the rows named (see `handlers.reports.lane._OUTCOME`)
_SUPERSEDE_REPORT = Raw(update(_R).where(_R.c.id == bindparam("old"))
                        .values(active=False, superseded_by=bindparam("new")),
                        pg_many=("UPDATE inspection_reports AS r SET active = false, superseded_by = v.new "
                                 "FROM unnest($1::int[], $2::int[]) AS v(old, new) WHERE r.id = v.old AND r.id = ANY($1)",
                                 ("old", "new")))
# a replaced report's hazards, one index lookup per report whatever the statistics say: right after a burst
# (never analysed) the planner read the whole table for `report_id = ANY(...)` or a join (OFFSET 0: not
# flattened into one)
_OF_REPORT = "SELECT id FROM hazards WHERE report_id = v.old OFFSET 0"
# the events first, while the hazards still belong to the replaced report, in hazard order
_SUPERSEDED_EVENTS = Raw(insert(_E).from_select(
    ["hazard_id", "at", "actor", "action", "note"],
    select(_H.c.id, bindparam("at", type_=_E.c.at.type), bindparam("actor", type_=_E.c.actor.type),
           literal("superseded", type_=_E.c.action.type), bindparam("note", type_=_E.c.note.type))
    .where(_H.c.report_id == bindparam("old")).order_by(_H.c.id)),
    pg_many=("INSERT INTO hazard_events (hazard_id, at, actor, action, note) "
             "SELECT h.id, v.at, v.actor, 'superseded', v.note "
             "FROM unnest($1::int[], $2::timestamp[], $3::text[], $4::text[]) WITH ORDINALITY AS v(old, at, actor, note, n) "
             f"CROSS JOIN LATERAL ({_OF_REPORT}) AS h ORDER BY v.n, h.id", ("old", "at", "actor", "note")))
# SQLite's; PostgreSQL supersedes and returns in one statement (`_SUPERSEDE_RETURNING`)
_SUPERSEDE_HAZARDS = Raw(update(_H).where(_H.c.report_id == bindparam("old")).values(status="superseded"))


_WHAT_STAYS = ("report_id", "id", "status", "enterprise", "text", "closed_at", "closed_by", "evidence")
_KEPT_OF = Raw(select(*(_H.c[c] for c in _WHAT_STAYS))
               .where(_H.c.report_id.in_(bindparam("reports", expanding=True)), _H.c.status.in_(("open", "closed")))
               .order_by(_H.c.id))
# PostgreSQL: each hazard's status before the update, from the rows it updates (a replaced report's hazards
# by one index lookup each, whatever the statistics say: see `_OF_REPORT`)
_SUPERSEDE_RETURNING = (
    f"WITH h AS (SELECT {', '.join('x.' + c for c in _WHAT_STAYS)} FROM unnest($1::int[]) AS v(old) "
    f"CROSS JOIN LATERAL (SELECT {', '.join(_WHAT_STAYS)} FROM hazards WHERE report_id = v.old OFFSET 0) AS x) "
    "UPDATE hazards SET status = 'superseded' FROM h WHERE hazards.id = h.id "
    f"RETURNING {', '.join('h.' + c for c in _WHAT_STAYS)}")


async def _supersede_hazards(conn: Any, olds: list[int]) -> list[tuple[Any, ...]]:
    """Every hazard of these replaced reports superseded; the ones that were open or closed, as `_WHAT_STAYS`
    (their status before) in id order."""
    if conn.dialect.name == "sqlite":  # one writer: read them, then update
        found = (await read_all(conn, [(_KEPT_OF, {"reports": olds})]))[0]
        writes = Writes(conn)
        writes.run(_SUPERSEDE_HAZARDS, [{"old": old} for old in olds])
        await writes.flush()
        return found
    driver = (await conn.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")  # in the caller's transaction (SQLAlchemy begins it here)
    rows = await driver.fetch(_SUPERSEDE_RETURNING, olds)
    return sorted((tuple(r) for r in rows if r[2] in ("open", "closed")), key=lambda r: r[1])


async def reports_to_review(session: AsyncSession, since: date | None = None) -> list[InspectionReport]:
    """Active 待核对 reports (oldest first): what the command centre still has to check or chase; not one beside
    a readable report of the same unit, day and round (a garbled re-post: the unit has reported)."""
    good = InspectionReport.__table__.alias("good")
    readable = (select(good.c.id).where(good.c.active, good.c.status != NEEDS_REVIEW,
                                        good.c.unit_id == InspectionReport.unit_id,
                                        good.c.report_date == InspectionReport.report_date,
                                        good.c.round == InspectionReport.round).exists())
    q = model_select(InspectionReport).where(col(InspectionReport.active), InspectionReport.status == NEEDS_REVIEW,
                                             ~readable)
    if since is not None:
        q = q.where(InspectionReport.report_date >= since)
    return list((await session.exec(q.order_by(col(InspectionReport.posted_at)))).all())
