"""The hazard ledger (隐患台账): filtered by region, domain, status and overdue, with each hazard's trail."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Integer
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.directory import Directory
from models.reports import Hazard, HazardEvent, InspectionReport

STATUS_NAMES = {"open": "未整改", "rectified": "已整改", "closed": "已销号", "superseded": "已更正作废"}
EVENT_NAMES = {"found": "报送发现", "rectified": "报送时已整改", "closed": "销号", "superseded": "报告更正，作废"}
PAGE = 100


@dataclass
class LedgerFilter:
    region: str | None = None  # a region key: the city or county and everything under it
    domain: str | None = None
    status: str | None = None  # a key of STATUS_NAMES
    overdue: bool = False


@dataclass
class Ledger:
    rows: list[Hazard]
    total: int
    page: int
    pages: int


def _where(directory: Directory, f: LedgerFilter, today: date) -> list:
    conds: list = []
    if f.region:
        keys = [r.key for r in directory.regions.by_key.values() if directory.regions.contains(f.region, r.key)]
        conds.append(col(Hazard.region).in_(keys))
    if f.domain:
        conds.append(Hazard.domain == f.domain)
    if f.status in STATUS_NAMES:
        conds.append(Hazard.status == f.status)
    elif not f.overdue:
        conds.append(Hazard.status != "superseded")  # corrected-away rows only when asked for
    if f.overdue:
        conds += [Hazard.status == "open", col(Hazard.deadline).is_not(None), col(Hazard.deadline) < today]
    return conds


async def ledger(session: AsyncSession, directory: Directory, f: LedgerFilter, today: date, page: int = 1,
                 size: int = PAGE) -> Ledger:
    conds = _where(directory, f, today)
    total = (await session.exec(select(func.count()).select_from(Hazard).where(*conds))).one()
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    rows = (await session.exec(select(Hazard).where(*conds).order_by(col(Hazard.id).desc())
                               .offset((page - 1) * size).limit(size))).all()
    return Ledger(list(rows), total, page, pages)


def is_overdue(h: Hazard, today: date) -> bool:
    return h.status == "open" and h.deadline is not None and h.deadline < today


@dataclass
class TrailLine:
    at: object
    who: str
    what: str
    why: str


async def trail(session: AsyncSession, directory: Directory, hazard_id: int) -> tuple[Hazard, list[TrailLine]] | None:
    """过程留痕: posted, changed, 销号 — who, when and why, oldest first."""
    h = await session.get(Hazard, hazard_id)
    if h is None:
        return None
    events = (await session.exec(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id)
                                 .order_by(col(HazardEvent.at), col(HazardEvent.id)))).all()
    report = await session.get(InspectionReport, h.report_id)
    lines = []
    if report is not None and not any(e.action in ("found", "rectified") for e in events):
        lines.append(TrailLine(report.posted_at, who(directory, report.posted_by), "报送发现", h.rectification or ""))
    for e in events:
        lines.append(TrailLine(e.at, who(directory, e.actor), EVENT_NAMES.get(e.action, "变更"), e.note or ""))
    return h, lines


def who(directory: Directory, actor: str | None) -> str:
    """A person's name and unit; never an internal id."""
    p = directory.people.get(actor or "")
    if p is None:
        p = next((q for q in directory.people.values() if actor in q.ids.values()), None)
    return directory.display(p) if p is not None else ("机器人" if actor in ("bot", "system") else "未登记人员")



async def by_domain(session: AsyncSession, since: date) -> dict[str, tuple[int, int]]:
    """Domain → (hazards found, of them rectified or 销号) since a date; corrected-away rows left out."""
    done = col(Hazard.status).in_(["rectified", "closed"])
    rows = (await session.exec(
        select(Hazard.domain, func.count(), func.sum(func.cast(done, Integer)))
        .where(Hazard.found_on >= since, Hazard.status != "superseded").group_by(Hazard.domain)
    )).all()
    return {d: (n, r or 0) for d, n, r in rows}
