"""日点评: one short commentary per division, drafted from the day's data like a teacher marking homework."""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.directory import Directory
from bot.text import percent
from handlers.daily.figures import DayData
from models.daily import Commentary
from models.reports import Hazard, InspectionRecord, InspectionReport

DIVISIONS = ("煤矿", "非煤矿山", "危化品", "工贸", "烟花爆竹")
ALIASES = {"危化": "危化品", "危险化学品": "危化品", "非煤": "非煤矿山", "烟花": "烟花爆竹", "工矿商贸": "工贸"}
_BASIS = re.compile(r"《|依据|违反|不符合|第\s*\d+\s*条|GB|AQ|规定|标准|规范要求")
MAX_LINES = 5
NUMERALS = "一二三四五六七八九十"


def domain_of(text: str) -> str | None:
    text = text.strip()
    for d in DIVISIONS:
        if text.startswith(d):
            return d
    for alias, d in ALIASES.items():
        if text.startswith(alias):
            return d
    return None


def domain_in(text: str) -> str | None:
    """A division named anywhere in the text; longest names first (非煤矿山 before 煤矿, 危化品 before 危化)."""
    names = {**{d: d for d in DIVISIONS}, **ALIASES}
    return next((names[n] for n in sorted(names, key=len, reverse=True) if n in text), None)


def region_name(directory: Directory, rep: InspectionReport) -> str:
    return rep.region or rep.unit_name or "未知单位"


async def draft(session: AsyncSession, directory: Directory, data: DayData, domain: str, now: datetime,
                slot: int) -> Commentary | None:
    """Draft one division's commentary for the report date in `data`."""
    d = data.report_date
    by = f"{(now + timedelta(hours=1)).hour}时前"
    recs = [(rep, rec) for rep in data.reports for rec in data.records.get(rep.id or 0, []) if rec.domain == domain]
    hazards = [h for _, rec in recs for h in data.hazards.get(rec.id or 0, [])]
    units = {region_name(directory, rep) for rep, _ in recs}
    rectified = sum(h.status != "open" for h in hazards)
    title = f"【{domain}日点评】{d.month}月{d.day}日" + (f"（第{slot}次）" if slot > 1 else "")
    sections: list[tuple[str, list[str]]] = []
    if recs:
        rate = f"，整改率{percent(rectified, len(hazards))}" if hazards else ""
        sections.append(("总体", [f"{len(units)}个单位报送{domain}检查，检查企业{len(recs)}家，"
                                  f"发现隐患{len(hazards)}处，已整改{rectified}处{rate}。"]))
    else:
        sections.append(("总体", [f"当日无单位报送{domain}领域检查。"]))
    gaps = await _coverage_gaps(session, directory, data, domain, units)
    if gaps:
        sections.append(("覆盖", [f"{'、'.join(gaps[:8])}{'等' if len(gaps) > 8 else ''}近期有{domain}检查，当日未报。"
                     f"请{gaps[0]}{'等单位' if len(gaps) > 1 else ''}{by}核实并补报。"]))
    overdue, overdue_n = await _overdue(session, domain, now.date())
    if overdue:
        lines = [""]
        for h in overdue:
            lines.append(f"· #{h.id} {h.region} {h.enterprise}：{h.text}（限{h.deadline.month}月{h.deadline.day}日）"  # type: ignore[union-attr]
                         f"——请{h.region}{by}报送整改情况")
        if overdue_n > MAX_LINES:
            lines.append(f"· 另有{overdue_n - MAX_LINES}处，发“隐患清单 {domain}”查看")
        sections.append((f"逾期未整改{overdue_n}处", lines))
    snapshot = {"open": await _open_ids(session, domain), "at": now.isoformat()}
    lookback = await _look_back(session, domain, snapshot["open"])
    if lookback:
        sections.append(("回头看", [lookback]))
    vague = sorted({region_name(directory, rep) for rep, rec in recs
                    if any(not _BASIS.search(h.text) for h in data.hazards.get(rec.id or 0, [])) and not rec.location})
    if vague:
        sections.append(("规范", [f"{'、'.join(vague[:6])}的隐患描述未写明依据和具体部位，请规范填写。"]))
    praise = _praise(directory, data, recs)
    if praise:
        sections.append(("点赞", [praise]))
    if not recs and not gaps and not overdue_n:
        return None  # nothing to mark: no commentary rather than an empty one
    out = [title]
    for i, (name, body) in enumerate(sections):
        out.append(f"{NUMERALS[i]}、{name}：{body[0]}")
        out.extend(body[1:])
    return Commentary(report_date=d, domain=domain, slot=slot, text="\n".join(out), drafted_at=now, snapshot=snapshot)


async def _coverage_gaps(session: AsyncSession, directory: Directory, data: DayData, domain: str,
                         reported: set[str]) -> list[str]:
    """Units with inspections in this domain in the last 30 days but none today."""
    since = data.report_date - timedelta(days=30)
    rows = await session.exec(
        select(InspectionReport.region, InspectionReport.unit_name)
        .join(InspectionRecord, col(InspectionRecord.report_id) == col(InspectionReport.id))
        .where(col(InspectionReport.active), InspectionRecord.domain == domain,
               InspectionReport.report_date >= since, InspectionReport.report_date < data.report_date)
        .distinct()
    )
    recent = {region or unit for region, unit in rows.all() if region or unit}
    return sorted(recent - reported)


async def _open_ids(session: AsyncSession, domain: str) -> list[int]:
    rows = await session.exec(select(Hazard.id).where(Hazard.domain == domain, Hazard.status == "open")
                              .order_by(col(Hazard.id)))
    return [i for i in rows.all() if i is not None]


async def _overdue(session: AsyncSession, domain: str, today: date) -> tuple[list[Hazard], int]:
    """The first few overdue hazards of the division (oldest deadline first), and how many there are."""
    where = (Hazard.domain == domain, Hazard.status == "open", col(Hazard.deadline).is_not(None),
             col(Hazard.deadline) < today)
    count = (await session.exec(select(func.count()).select_from(Hazard).where(*where))).one()
    rows = await session.exec(select(Hazard).where(*where).order_by(col(Hazard.deadline), col(Hazard.id)).limit(MAX_LINES))
    return list(rows.all()), count


async def _look_back(session: AsyncSession, domain: str, open_now: list[int]) -> str | None:
    """What changed since the previous commentary of this division."""
    prev = (await session.exec(
        select(Commentary).where(Commentary.domain == domain).order_by(col(Commentary.id).desc())
    )).first()
    if prev is None:
        return None
    before, now = set(prev.snapshot.get("open", [])), set(open_now)
    closed, new = sorted(before - now), sorted(now - before)
    if not closed and not new:
        return "较上次点评，隐患情况无变化。"
    parts = []
    if closed:
        parts.append(f"已销号或整改{len(closed)}处（#{'、#'.join(map(str, closed[:5]))}{'等' if len(closed) > 5 else ''}）")
    if new:
        parts.append(f"新增待整改{len(new)}处")
    return "较上次点评，" + "，".join(parts) + "。"


def _praise(directory: Directory, data: DayData, recs: list) -> str | None:
    good: dict[str, list[str]] = defaultdict(list)
    for rep, rec in recs:
        hz = data.hazards.get(rec.id or 0, [])
        name = region_name(directory, rep)
        if hz and all(_BASIS.search(h.text) for h in hz):
            good[name].append("隐患描述写明了依据")
        if hz and all(h.status != "open" for h in hz):
            good[name].append("发现隐患均已整改")
    if not good:
        return None
    items = [f"{name}{'、'.join(sorted(set(v)))}" for name, v in sorted(good.items())[:3]]
    return "；".join(items) + "，值得推广。"
