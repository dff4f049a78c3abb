"""预警 → 叫应: parse the order, preview who it reaches, then send it and start the clock."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Person
from bot.directory import Directory
from bot.outbox import Outbox
from handlers.warnings.policy import first_step_rows, policy, schedule
from handlers.warnings.targets import Reach, reach, resolve_regions
from models.db import bulk_insert
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

LEVELS = {"红": "红色", "橙": "橙色", "黄": "黄色", "蓝": "蓝色"}
_LEVEL = re.compile(r"(红|橙|黄|蓝)色?(?:预警)?")
_SCOPE = re.compile(r"范围\s*[:：]\s*(?P<v>.+?)(?=\s*(?:内容|时限|要求)\s*[:：]?|$)", re.S)
_CONTENT = re.compile(r"内容\s*[:：]\s*(?P<v>.*?)(?=\s*时限\s*[:：]?\s*\d|$)", re.S)
_DEADLINE = re.compile(r"时限\s*[:：]?\s*(\d+(?:\.\d+)?)\s*分钟?")


@dataclass
class Order:
    level: str
    type: str
    regions: list[str]
    content: str
    deadline_min: float | None


def parse_order(args: str, directory: Directory) -> Order | str:
    """An Order, or a short Chinese error that says how to fix the command."""
    example = "格式：叫应 红色 暴雨预警 范围：吉林市、延边州 内容：…… 时限5分钟"
    m = _LEVEL.search(args)
    if not m:
        return "请写明预警级别（红色/橙色/黄色/蓝色）。" + example
    level = LEVELS[m.group(1)]
    scope = _SCOPE.search(args)
    if not scope:
        return "请写明范围，如“范围：吉林市、延边州”或“范围：全省”。" + example
    regions, unknown = resolve_regions(directory.regions, scope.group("v").strip())
    if unknown:
        like = directory.regions.like(unknown[0])  # 范围：吉林 — 吉林市, or the whole province?
        hint = f"您是指{'还是'.join(like)}？" if like else f"可选：{directory.regions.choices().replace(', ', '、')}。"
        return f"未知地区：{'、'.join(unknown)}。{hint}"
    if not regions:
        return "范围中没有可识别的地区。" + example
    head = args[m.end():scope.start()].strip(" ，,")
    wtype = head or "预警"
    content = _CONTENT.search(args)
    if content and not re.sub(r"[\W_]+", "", content.group("v")):  # `内容：` then nothing, or only `，。` or 😀
        return "内容是空的，请写明要求，如“内容：立即转移危险区域群众”。" + example
    deadline = _DEADLINE.search(args)
    return Order(level, wtype, regions, content.group("v").strip() if content else "",
                 float(deadline.group(1)) if deadline else None)


def new_warning(app: Any, order: Order, issuer: str, now: datetime, transport: str | None, chat: str | None,
                kind: str = "叫应") -> Warning:
    pol = policy(app.cfg, order.level)
    return Warning(kind=kind, level=order.level, type=order.type, regions=order.regions, content=order.content,
                   deadline_min=order.deadline_min or pol.deadline_min, issued_by=issuer, issued_at=now,
                   origin_transport=transport, origin_chat=chat)


def reach_of(app: Any, w: Warning) -> Reach:
    return reach(app.directory, w.regions, app.cfg.warnings.titles)


def preview_text(app: Any, w: Warning, r: Reach) -> str:
    return (f"【预览】{w.title}，时限{w.deadline_min:g}分钟\n{r.preview(app.directory)}\n"
            f"回复“确认”发出，“取消”作废。")


def warning_text(w: Warning) -> str:
    body = f"\n{w.content}" if w.content else ""
    head = f"【提示函】第{w.serial}号（#{w.id}）" if w.kind == "提示函" and w.serial else f"【{w.level}{w.type}】{w.kind}#{w.id}"
    return f"{head}{body}\n请被点名同志{w.deadline_min:g}分钟内回复“收到”，并报告落实措施。"


async def activate(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, now: datetime,
                   r: Reach | None = None, extra: list[Person] | None = None, attachment: str | None = None) -> int:
    """Send the warning to every group and person, one obligation each, and schedule escalation.

    A province is 20,000 people: obligations, call records, first steps and outbox rows go in as bulk
    inserts of plain rows (no ORM object per person), all in the caller's transaction."""
    r = r or reach_of(app, w)
    d: Directory = app.directory
    where = {t.person.id: gid for gid, ts in r.groups.items() for t in ts}
    people = [(t.person, t.region, t.title) for t in r.targets]
    named = {p.id for p, _, _ in people}
    for p in extra or []:
        if p.id not in named:
            named.add(p.id)
            people.append((p, d.region_of(p) or "", "报送员"))
            g = d.region_group(d.region_of(p))
            if g is not None:
                where.setdefault(p.id, g.id)
    conn = await session.connection()
    if people:
        await bulk_insert(conn, Obligation, [
            {"warning_id": w.id, "person_id": p.id, "region": region, "title": title, "sent_at": now,
             "group_id": where.get(p.id), "state": "sent", "escalations": 0} for p, region, title in people])
    ob_id: dict[str, int] = dict((await conn.execute(  # type: ignore[arg-type]
        select(Obligation.person_id, Obligation.id).where(Obligation.warning_id == w.id))).all())
    text = warning_text(w)
    batch = app.cfg.warnings.mention_batch
    groups = dict(r.groups)
    for gid in where.values():
        groups.setdefault(gid, [])
    in_group: dict[str, list[Person]] = {gid: [] for gid in groups}
    for p, _, _ in people:
        gid = where.get(p.id)
        if gid is not None:
            in_group[gid].append(p)
    rows: list[dict[str, Any]] = []
    corr = f"warning:{w.id}"
    for gid, mentioned in in_group.items():
        chunks = [mentioned[i:i + batch] for i in range(0, len(mentioned), batch)] or [[]]
        for i, chunk in enumerate(chunks):
            msg = text if i == 0 else f"（续）{w.kind}#{w.id} 请以下同志回应："
            rows += outbox.group_rows(d.groups[gid], msg, mention=chunk, reason="warning", correlation_id=corr,
                                      attachment=attachment if i == 0 else None)
    records: list[dict[str, Any]] = []
    private = text + "\n（私信回复“收到”或数字1即可）"
    for p, _, _ in people:
        o = ob_id[p.id]
        records.append({"warning_id": w.id, "obligation_id": o, "person_id": p.id, "at": now, "direction": "out",
                        "channel": "group", "text": text})
        if p.private_notice:
            rows += outbox.person_rows(p, private, reason="warning", correlation_id=corr, attachment=attachment)
            records.append({"warning_id": w.id, "obligation_id": o, "person_id": p.id, "at": now,
                            "direction": "out", "channel": "private", "text": text})
    await outbox.insert_many(rows)
    if records:
        await bulk_insert(conn, CallRecord, records)
    steps = first_step_rows(app.cfg, w.level, w.id, list(ob_id.values()), now)  # type: ignore[arg-type]
    if steps:
        await bulk_insert(conn, EscalationStep, steps)
    session.add_all(schedule(app.cfg, w.level, w.id, [], now))  # type: ignore[arg-type]
    w.status = "active"
    w.activated_at = now
    w.groups = list(groups)
    session.add(w)
    if "ack_batcher" in app.data:
        app.data["ack_batcher"].index.watch(session)
    return len(people)
