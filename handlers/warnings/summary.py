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

from bot.outbox import Outbox
from bot.xlsx import safe_row
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

RULE_S = 5 * 60  # everyone woken within 5 minutes


async def obligations(session: AsyncSession, warning_id: int | None) -> list[Obligation]:
    return list((await session.exec(select(Obligation).where(Obligation.warning_id == warning_id)
                                    .order_by(col(Obligation.id)))).all())


def answered(o: Obligation) -> bool:
    return o.state in ("acked", "responded")


def ack_seconds(w: Warning, o: Obligation) -> float | None:
    return (o.acked_at - (w.activated_at or o.sent_at)).total_seconds() if o.acked_at else None


def fmt_s(s: float) -> str:
    return f"{int(s // 60)}分{int(s % 60):02d}秒" if s >= 60 else f"{int(s)}秒"


async def rolling_lines(app: Any, session: AsyncSession, w: Warning) -> dict[str, str]:
    obs = [o for o in await obligations(session, w.id) if o.backup_of is None]
    by_group: dict[str, list[Obligation]] = defaultdict(list)
    for o in obs:
        if o.group_id:
            by_group[o.group_id].append(o)
    lines = {}
    for gid, group_obs in by_group.items():
        done = [o for o in group_obs if answered(o)]
        silent = [app.directory.people[o.person_id].name for o in group_obs if not answered(o) and o.person_id in app.directory.people]
        tail = f"，未回应：{'、'.join(silent)}" if silent else "，全部回应"
        lines[gid] = f"{w.kind}#{w.id} 已回应 {len(done)}/{len(group_obs)}{tail}"
    return lines


async def status_text(app: Any, session: AsyncSession, w: Warning) -> str:
    obs = await obligations(session, w.id)
    main = [o for o in obs if o.backup_of is None]
    start = w.activated_at or w.issued_at
    lines = [f"{w.title}（发出{start:%H:%M}，时限{w.deadline_min:g}分钟，{_status(w)}）",
             f"已回应 {sum(answered(o) for o in main)}/{len(main)}，未叫醒 {sum(o.state == 'unwoken' for o in main)}人"]
    for region, group in _by_region(main).items():
        done = [o for o in group if answered(o)]
        silent = [_name(app, o) for o in group if not answered(o)]
        times = [t for o in done if (t := ack_seconds(w, o)) is not None]
        avg = f"，平均{fmt_s(statistics.mean(times))}" if times else ""
        lines.append(f"· {region}：{len(done)}/{len(group)}" + (f"，未回应：{'、'.join(silent)}" if silent else "") + avg)
    backups = [o for o in obs if o.backup_of is not None]
    if backups:
        lines.append(f"AB角：已叫{len(backups)}人，已回应{sum(answered(o) for o in backups)}人")
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
    line = f"回应率{len(times) * 100 // total}%（{len(times)}/{total}），5分钟内{within}人（{within * 100 // total}%）"
    if times:
        line += f"，中位{fmt_s(statistics.median(times))}，最慢{fmt_s(max(times))}"
    return line


async def summary_text(app: Any, session: AsyncSession, w: Warning) -> str:
    main = [o for o in await obligations(session, w.id) if o.backup_of is None]
    silent = [o for o in main if not answered(o)]
    measures = [f"{_name(app, o)}（{o.region}）：{o.response}" for o in main if o.response]
    lines = [f"【总结】{w.title}已解除。点名{len(main)}人，已回应{len(main) - len(silent)}人，"
             f"未叫醒{len(silent)}人" + (f"：{'、'.join(_name(app, o) + '（' + (o.region or '') + '）' for o in silent)}" if silent else "") + "。"]
    if measures:
        lines.append("落实措施：" + "；".join(measures))
    return "\n".join(lines)


async def close_warning(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, now: datetime, closed_by: str) -> None:
    w.status = "closed"
    w.closed_at = now
    w.closed_by = closed_by
    session.add(w)
    await session.exec(update(EscalationStep).where(col(EscalationStep.warning_id) == w.id,
                                                    col(EscalationStep.status) == "pending").values(status="cancelled"))
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
    channel = {"group": "群内@", "private": "私信", "voice": "电话", "sms": "短信", "ack": "回应", "response": "措施"}
    for r in records:
        p = app.directory.people.get(r.person_id or "")
        ws.append(safe_row([r.at.strftime("%Y-%m-%d %H:%M:%S"), p.name if p else r.person_id,
                   app.directory.display(p) if p else "", "呼叫" if r.direction == "out" else "应答",
                   channel.get(r.channel, r.channel), r.text]))
    ws2 = wb.create_sheet("回应情况")
    ws2.append(safe_row(["人员", "地区", "职务", "状态", "发出", "回应时间", "用时(秒)", "回应内容", "落实措施", "催叫次数"]))
    state = {"sent": "未回应", "escalated": "催叫中", "acked": "已回应", "responded": "已报措施", "unwoken": "未叫醒"}
    for o in obs:
        t = ack_seconds(w, o)
        ws2.append(safe_row([_name(app, o), o.region, o.title, state.get(o.state, o.state), o.sent_at.strftime("%H:%M:%S"),
                    o.acked_at.strftime("%H:%M:%S") if o.acked_at else "", round(t) if t is not None else "",
                    o.ack_text or "", o.response or "", o.escalations]))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
