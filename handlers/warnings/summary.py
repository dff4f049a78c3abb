"""督导, 总结, 评估: progress at any time, the summary and evaluation on close, and the full record."""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outbox import Outbox, drop_closed
from bot.text import percent
from bot.xlsx import safe_row
from handlers.warnings.state import (
    ANSWERED,
    UNWOKEN,
    ack_seconds,
    board_rows,
    load_tally,
    obligations,
    person_state,
    tally,
)
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

RULE_S = 5 * 60  # everyone woken within 5 minutes


def fmt_s(s: float) -> str:
    return f"{int(s // 60)}分{int(s % 60):02d}秒" if s >= 60 else f"{int(s)}秒"


async def rolling_lines(app: Any, session: AsyncSession, w: Warning) -> dict[str, str]:
    # the named people's columns, not 20,000 ORM objects once a minute for a province; person_state reads .state
    named = (await session.exec(select(Obligation.group_id, Obligation.person_id, Obligation.state)
                                .where(Obligation.warning_id == w.id, col(Obligation.backup_of).is_(None))
                                .order_by(col(Obligation.id)))).all()
    people = app.directory.people
    by_group: dict[str, tuple[list[int], list[str]]] = {}  # group → ([answered, named], [silent names])
    for o in named:
        if o.group_id:
            counts, silent = by_group.setdefault(o.group_id, ([0, 0], []))
            counts[1] += 1
            if person_state(o, w) == ANSWERED:  # type: ignore[arg-type]
                counts[0] += 1
            elif o.person_id in people:
                silent.append(people[o.person_id].name)
    lines = {}
    for gid, ((done, total), silent) in by_group.items():
        tail = f"，未回应：{'、'.join(silent)}" if silent else "，全部回应"
        lines[gid] = f"{w.kind}#{w.id} 已回应 {done}/{total}{tail}"
    return lines


async def status_text(app: Any, session: AsyncSession, w: Warning) -> str:
    obs = await obligations(session, w.id)
    t = tally(w, obs)
    main = [o for o in obs if o.backup_of is None]
    start = w.activated_at or w.issued_at
    lines = [f"{w.title}（发出{start:%H:%M}，时限{w.deadline_min:g}分钟，{_status(w)}）", t.line()]
    for region, group in _by_region(main).items():
        done = [o for o in group if person_state(o, w) == ANSWERED]
        silent = [f"{_name(app, o)}（{person_state(o, w)}）" for o in group if person_state(o, w) != ANSWERED]
        times = [s for o in done if (s := ack_seconds(w, o)) is not None]
        avg = f"，平均{fmt_s(statistics.mean(times))}" if times else ""
        lines.append(f"· {region}：{len(done)}/{len(group)}" + (f"，未回应：{'、'.join(silent)}" if silent else "") + avg)
    backups = t.backup_line()
    if backups:
        lines.append(backups)
    measures = [f"{_name(app, o)}：{o.response}" for o in obs if o.response]
    if measures:
        lines.append("落实措施：" + "；".join(measures[:6]))
    return "\n".join(lines)


def _status(w: Warning) -> str:
    return {"active": "进行中", "closed": "已解除", "preview": "待确认", "cancelled": "已取消"}.get(w.status, w.status)


def _by_region(obs: list[Obligation]) -> dict[str, list[Obligation]]:
    out: dict[str, list[Obligation]] = defaultdict(list)
    for o in obs:
        out[o.region or "未知地区"].append(o)
    return dict(out)


def _name(app: Any, o: Obligation) -> str:
    p = app.directory.people.get(o.person_id)
    return p.name if p else o.person_id


async def evaluation_text(app: Any, session: AsyncSession, w: Warning) -> str:
    """评估: rate, median and slowest time to acknowledge, per region and per level, against the 5-minute rule."""
    main = [o for o in await obligations(session, w.id) if o.backup_of is None]
    times = [t for o in main if (t := ack_seconds(w, o)) is not None]
    lines = ["【评估】" + _rate_line(len(main), times)]
    for region, group in _by_region(main).items():
        rt = [t for o in group if (t := ack_seconds(w, o)) is not None]
        lines.append(f"· {region}：{_rate_line(len(group), rt)}")
    since = (w.activated_at or w.issued_at) - timedelta(days=30)
    same_level = (await session.exec(select(Warning).where(Warning.level == w.level, Warning.kind == w.kind,
                                                           col(Warning.activated_at) >= since))).all()
    if len(same_level) > 1:
        all_t: list[float] = []
        total = 0
        for other in same_level:
            obs = [o for o in await obligations(session, other.id) if o.backup_of is None]
            total += len(obs)
            all_t += [t for o in obs if (t := ack_seconds(other, o)) is not None]
        lines.append(f"· 近30天{w.level}{w.kind}{len(same_level)}次：{_rate_line(total, all_t)}")
    return "\n".join(lines)


def _rate_line(total: int, times: list[float]) -> str:
    if not total:
        return "无点名人员"
    within = sum(t <= RULE_S for t in times)
    line = f"回应率{percent(len(times), total)}（{len(times)}/{total}），5分钟内{within}人（{percent(within, total)}）"
    if times:
        line += f"，中位{fmt_s(statistics.median(times))}，最慢{fmt_s(max(times))}"
    return line


async def summary_text(app: Any, session: AsyncSession, w: Warning) -> str:
    t = await load_tally(session, w)
    main = [o for obs in t.named.values() for o in obs]
    unwoken = t.named.get(UNWOKEN, [])
    measures = [f"{_name(app, o)}（{o.region}）：{o.response}" for o in sorted(main, key=lambda o: o.id or 0) if o.response]
    names = "、".join(f"{_name(app, o)}（{o.region or ''}）" for o in unwoken)
    lines = [f"【总结】{w.title}已解除。{t.line()}" + (f"。未叫醒：{names}" if names else "") + "。"]
    backups = t.backup_line()
    if backups:
        lines.append(backups + "。")
    if measures:
        lines.append("落实措施：" + "；".join(measures))
    return "\n".join(lines)


async def close_warning(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, now: datetime, closed_by: str) -> None:
    w.status = "closed"
    w.closed_at = now
    w.closed_by = closed_by
    session.add(w)
    await session.flush()  # the warning row first: an escalation batch locks it before its steps (no deadlock)
    await session.exec(update(EscalationStep).where(col(EscalationStep.warning_id) == w.id,
                                                    col(EscalationStep.status) == "pending").values(status="cancelled"))
    await drop_closed(session, w.id, closed_by)
    text = await summary_text(app, session, w) + "\n" + await evaluation_text(app, session, w)
    targets = set(w.groups) | {g.id for g in app.directory.groups_with_role("chuzhang")}
    for gid in targets:
        if gid in app.directory.groups:
            outbox.to_group(app.directory.groups[gid], text, reason="warning_summary", correlation_id=f"warning:{w.id}")
    if w.origin_chat and w.origin_transport and not any(
        app.directory.groups[g].ids.get(w.origin_transport) == w.origin_chat for g in targets if g in app.directory.groups
    ):
        outbox.to_chat(w.origin_transport, w.origin_chat, text, reason="warning_summary")


async def export_records(session: AsyncSession, app: Any, w: Warning, path: Path) -> Path:
    """有叫有应有记录: every call and answer, and each person's obligation, in one workbook."""
    records = (await session.exec(select(CallRecord).where(CallRecord.warning_id == w.id)
                                  .order_by(col(CallRecord.at), col(CallRecord.id)))).all()
    obs = await obligations(session, w.id)
    wb = Workbook()
    ws = wb.active
    ws.title = "叫应记录"
    ws.append(safe_row([f"{w.title} 叫应记录（{w.issued_at:%Y-%m-%d %H:%M}）"]))
    ws.append(safe_row(["时间", "人员", "单位", "方向", "渠道", "内容"]))
    channel = {"group": "群内@", "private": "私信", "voice": "电话", "voice_joined": "电话（已合并）", "sms": "短信",
               "ack": "回应", "response": "措施"}
    for r in records:
        p = app.directory.people.get(r.person_id or "")
        ws.append(safe_row([r.at.strftime("%Y-%m-%d %H:%M:%S"), p.name if p else r.person_id,
                   app.directory.display(p) if p else "", "呼叫" if r.direction == "out" else "应答",
                   channel.get(r.channel, r.channel), r.text]))
    ws2 = wb.create_sheet("回应情况")
    ws2.append(safe_row(["人员", "地区", "职务", "状态", "发出", "回应时间", "用时(秒)", "回应内容", "落实措施", "催叫次数"]))
    for row in board_rows(app, w, obs):
        ws2.append(safe_row([row.name, row.region, row.title, row.state_text, row.sent_at.strftime("%H:%M:%S"),
                             row.acked_at.strftime("%H:%M:%S") if row.acked_at else "",
                             round(row.ack_s) if row.ack_s is not None else "", row.ack_text, row.response,
                             row.escalations]))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
