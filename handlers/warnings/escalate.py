"""督导: due escalation steps, one idempotent step at a time (Grafana OnCall's pattern).

Each step flips pending → done inside the transaction that does its work, so it runs exactly once,
with two bot processes or after a crash; overdue steps run at once after a restart and are logged late."""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outbox import Outbox
from handlers.warnings.policy import next_obligation_step
from handlers.warnings.summary import close_warning, rolling_lines
from models.db import transaction
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

LATE_LOG_S = 10


async def escalate_due(app: Any, now: datetime, batch: int = 500, rounds: int = 50) -> int:
    """Run every step due by `now` (including the next steps those schedule); returns how many ran."""
    ran = 0
    for _ in range(rounds):
        async with app.sessions() as session:
            due = (await session.exec(
                select(EscalationStep.id).where(EscalationStep.status == "pending", col(EscalationStep.due_at) <= now)
                .order_by(col(EscalationStep.due_at), col(EscalationStep.id)).limit(batch)
            )).all()
        if not due:
            break
        for step_id in due:
            ran += await run_step(app, step_id, now)
    if ran:
        app.outbox_sender.wake()
    return ran


async def run_step(app: Any, step_id: int, now: datetime) -> int:
    """Run one step; a next step of the same obligation that is already due runs right after it, so that a
    chain catching up after downtime stays in order ahead of later warning-level steps."""
    ran = 0
    next_id: int | None = step_id
    while next_id is not None:
        done, next_id = await _run_one(app, next_id, now)
        ran += done
    return ran


async def _run_one(app: Any, step_id: int, now: datetime) -> tuple[int, int | None]:
    token = uuid.uuid4().hex[:16]
    async with transaction(app.sessions) as session:
        claimed = await session.exec(
            update(EscalationStep).where(col(EscalationStep.id) == step_id, col(EscalationStep.status) == "pending")
            .values(status="done", run_token=token, executed_at=now)
        )
        if claimed.rowcount != 1:
            return 0, None  # another process (or an earlier run) took it
        step = await session.get(EscalationStep, step_id)
        assert step is not None
        late = (now - step.due_at).total_seconds()
        step.late_s = late
        if late > LATE_LOG_S:
            app.log.warning("escalation_step_late", step=step_id, action=step.action, late_s=round(late))
        w = await session.get(Warning, step.warning_id)
        if w is None or w.status != "active":
            step.status = "cancelled"
            session.add(step)
            return 0, None
        outbox = Outbox(session, app.data)
        await ACTIONS[step.action](app, session, outbox, w, step, now)
        session.add(step)
        nxt = None
        if step.obligation_id is not None and step.status == "done":
            nxt = next_obligation_step(app.cfg, w.level, w.id, step.obligation_id,  # type: ignore[arg-type]
                                       w.activated_at or w.issued_at, step.seq)
            if nxt is not None:
                session.add(nxt)
                await session.flush()
    return 1, (nxt.id if nxt is not None and nxt.due_at <= now else None)


async def _obligation(session: AsyncSession, step: EscalationStep) -> Obligation | None:
    o = await session.get(Obligation, step.obligation_id) if step.obligation_id else None
    if o is None or not o.open:
        step.status = "cancelled"  # answered in time: nothing to do
        return None
    o.state = "escalated"
    o.escalations += 1
    session.add(o)
    return o


def _record(session: AsyncSession, w: Warning, o: Obligation | None, person_id: str | None, channel: str, text: str,
            now: datetime) -> None:
    session.add(CallRecord(warning_id=w.id, obligation_id=o.id if o else None, person_id=person_id, at=now,  # type: ignore[arg-type]
                           direction="out", channel=channel, text=text))


def _minutes(w: Warning, now: datetime) -> str:
    return f"{(now - (w.activated_at or w.issued_at)).total_seconds() / 60:.0f}"


async def remention(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    o = await _obligation(session, step)
    if o is None:
        return
    p = app.directory.people.get(o.person_id)
    group = app.directory.groups.get(o.group_id or "") or app.directory.region_group(o.region)
    if p is None or group is None:
        return
    text = f"请立即回应{w.kind}#{w.id}（{w.level}{w.type}），已过{_minutes(w, now)}分钟未回应。回复“收到”。"
    outbox.to_group(group, text, mention=[p], reason="escalation", correlation_id=f"warning:{w.id}")
    _record(session, w, o, p.id, "group", text, now)


async def private(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    o = await _obligation(session, step)
    p = app.directory.people.get(o.person_id) if o else None
    if o is None or p is None:
        return
    text = f"【催叫】{w.title}，您尚未回应，请立即回复“收到”或数字1。"
    outbox.to_person(p, text, reason="escalation", correlation_id=f"warning:{w.id}")
    _record(session, w, o, p.id, "private", text, now)


async def _phone(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, o: Obligation, person_id: str,
                 kind: str, now: datetime) -> None:
    p = app.directory.people.get(person_id)
    if p is None:
        return
    if not p.phone:
        _record(session, w, o, p.id, kind, "无电话号码，未能拨打", now)
        return
    text = f"应急管理{w.kind}：{w.level}{w.type}，编号{w.id}，请立即在工作群回复收到。"
    outbox.to_chat(kind, f"tel:{p.phone}", text, reason="escalation", correlation_id=f"warning:{w.id}")
    _record(session, w, o, p.id, kind, text, now)


async def call(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    o = await _obligation(session, step)
    if o is not None:
        await _phone(app, session, outbox, w, o, o.person_id, "voice", now)


async def sms(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    o = await _obligation(session, step)
    if o is not None:
        await _phone(app, session, outbox, w, o, o.person_id, "sms", now)


async def backup(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    """Wake the AB backup: their own obligation, a private message and a call."""
    o = await _obligation(session, step)
    p = app.directory.people.get(o.person_id) if o else None
    b = app.directory.people.get(p.backup or "") if p else None
    if o is None or b is None:
        return
    existing = (await session.exec(select(Obligation).where(Obligation.warning_id == w.id,
                                                            Obligation.person_id == b.id))).first()
    bo = existing or Obligation(warning_id=w.id, person_id=b.id, region=o.region, group_id=o.group_id,
                                title=f"{o.title}B角",
                                backup_of=o.id, sent_at=now)
    session.add(bo)
    await session.flush()
    text = f"【AB角叫应】{w.title}：{p.name}（A角）{_minutes(w, now)}分钟未回应，请您立即回复“收到”并落实。"  # type: ignore[union-attr]
    outbox.to_person(b, text, reason="escalation", correlation_id=f"warning:{w.id}")
    _record(session, w, bo, b.id, "private", text, now)
    await _phone(app, session, outbox, w, bo, b.id, "voice", now)


async def notify_superior(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep,
                          now: datetime) -> None:
    """The 未叫醒 list to each silent person's superior, and the whole list to the duty officer."""
    silent = await silent_obligations(session, w.id)
    if not silent:
        return
    by_superior: dict[str, list[Obligation]] = defaultdict(list)
    for o in silent:
        p = app.directory.people.get(o.person_id)
        if p is not None and p.superior:
            by_superior[p.superior].append(o)
    for sup_id, obs in by_superior.items():
        sup = app.directory.people.get(sup_id)
        if sup is not None:
            text = f"【未叫醒】{w.title}已过{_minutes(w, now)}分钟，您分管的以下同志未回应：{_names(app, obs)}。请督促。"
            outbox.to_person(sup, text, reason="unwoken", correlation_id=f"warning:{w.id}")
            _record(session, w, None, sup.id, "private", text, now)
    text = f"【未叫醒名单】{w.title}已过{_minutes(w, now)}分钟，{len(silent)}人未回应：{_names(app, silent)}"
    for officer in duty_officers(app, w):
        outbox.to_person(officer, text, reason="unwoken", correlation_id=f"warning:{w.id}")


async def rolling(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    """One rolling line per group instead of one reply per person; posted only when it changed."""
    lines = await rolling_lines(app, session, w)
    last = dict(w.meta.get("rolling", {}))
    for gid, line in lines.items():
        if last.get(gid) != line and gid in app.directory.groups:
            outbox.to_group(app.directory.groups[gid], line, reason="rolling", correlation_id=f"warning:{w.id}")
            last[gid] = line
    w.meta = {**w.meta, "rolling": last}
    session.add(w)
    if await silent_obligations(session, w.id, include_unwoken=True):
        session.add(EscalationStep(warning_id=w.id, action="rolling", seq=step.seq + 1,
                                   due_at=now + timedelta(seconds=app.cfg.warnings.summary_every_s)))


async def finalize(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    """After the last step: whoever is still silent is 未叫醒."""
    silent = await silent_obligations(session, w.id)
    for o in silent:
        o.state = "unwoken"
        session.add(o)
    if silent:
        text = f"【未叫醒】{w.title}催叫结束，{len(silent)}人仍未回应：{_names(app, silent)}"
        for officer in duty_officers(app, w):
            outbox.to_person(officer, text, reason="unwoken", correlation_id=f"warning:{w.id}")


async def expire(app: Any, session: AsyncSession, outbox: Outbox, w: Warning, step: EscalationStep, now: datetime) -> None:
    await close_warning(app, session, outbox, w, now, closed_by="到期")


ACTIONS = {"remention": remention, "private": private, "call": call, "sms": sms, "backup": backup,
           "notify_superior": notify_superior, "rolling": rolling, "finalize": finalize, "expire": expire}


async def silent_obligations(session: AsyncSession, warning_id: int | None, include_unwoken: bool = False) -> list[Obligation]:
    states = ["sent", "escalated", *(["unwoken"] if include_unwoken else [])]
    return list((await session.exec(select(Obligation).where(Obligation.warning_id == warning_id,
                                                             col(Obligation.state).in_(states))
                                    .order_by(col(Obligation.id)))).all())


def duty_officers(app: Any, w: Warning) -> list[Any]:
    issuer = app.directory.people.get(w.issued_by)
    return [issuer] if issuer is not None else app.directory.with_role("duty_officer")


def _names(app: Any, obs: list[Obligation]) -> str:
    out = []
    for o in obs:
        p = app.directory.people.get(o.person_id)
        out.append(f"{p.name if p else o.person_id}（{o.region}{o.title}）")
    return "、".join(out)
