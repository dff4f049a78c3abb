"""督导: due escalation steps (Grafana OnCall's pattern: lock, check, one step, save, schedule the next).

A step flips pending → done inside the transaction that does its work, so it runs exactly once, with two
bot processes or after a crash; overdue steps run at once after a restart and are logged late. Steps are
claimed and run in batches so that 20,000 silent people cost a few transactions, not 20,000."""
from __future__ import annotations

import heapq
import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outbox import Outbox
from handlers.warnings import calls
from handlers.warnings.bulksteps import BULK_ACTIONS, run_bulk
from handlers.warnings.policy import next_obligation_step
from handlers.warnings.state import SILENT_STORED, declare_unwoken
from handlers.warnings.summary import close_warning, rolling_lines
from models.db import transaction
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

LATE_LOG_S = 10


@dataclass
class Batch:
    """The steps run in one transaction, with what they share loaded once."""

    app: Any
    session: AsyncSession
    outbox: Outbox
    now: datetime
    warnings: dict[int, Warning] = field(default_factory=dict)
    obligations: dict[int, Obligation] = field(default_factory=dict)
    remind: dict[tuple[int, str], list[tuple[Any, Obligation]]] = field(default_factory=dict)
    calls: dict[tuple[str, str], calls.Pending] = field(default_factory=dict)  # one call per number per batch

    async def warning(self, wid: int) -> Warning | None:
        if wid not in self.warnings:
            w = await self.session.get(Warning, wid)
            if w is None:
                return None
            self.warnings[wid] = w
        return self.warnings[wid]

    def flush_reminders(self) -> None:
        """One re-mention per group listing everyone still silent, not one message per person."""
        batch_size = self.app.cfg.warnings.mention_batch
        for (wid, gid), silent in self.remind.items():
            w, group = self.warnings[wid], self.app.directory.groups[gid]
            text = f"请以下同志立即回应{w.kind}#{w.id}（{w.level}{w.type}），已过{_minutes(w, self.now)}分钟未回应。回复“收到”。"
            for i in range(0, len(silent), batch_size):
                chunk = silent[i:i + batch_size]
                self.outbox.to_group(group, text, mention=[p for p, _ in chunk], reason="escalation",
                                     correlation_id=f"warning:{w.id}")
                for p, o in chunk:
                    _record(self.session, w, o, p.id, "group", text, self.now)
        self.remind.clear()


async def escalate_due(app: Any, now: datetime, batch: int = 500, rounds: int = 100) -> int:
    """Run every step due by `now` (and the next steps those make due); returns how many ran."""
    ran = 0
    for _ in range(rounds):
        due = await due_steps(app, now, batch)
        if not due:
            break
        ran += await run_batch(app, due, now)
    if ran:
        app.outbox_sender.wake()
    return ran


async def next_due(app: Any) -> datetime | None:
    """When the earliest pending step is due: the timer sleeps until then."""
    async with app.sessions() as session:
        return (await session.exec(select(func.min(EscalationStep.due_at)).where(EscalationStep.status == "pending"))).one()


async def due_steps(app: Any, now: datetime, batch: int = 500) -> list[int]:
    """Due steps in due order; steps due together are taken group by group, so that one batch holds a whole
    group's silent people and re-mentions them in one message (20,000 people due at +2 minutes are ~1,810
    group messages, not 20,000)."""
    async with app.sessions() as session:
        return list((await session.exec(
            select(EscalationStep.id)
            .outerjoin(Obligation, col(Obligation.id) == col(EscalationStep.obligation_id))
            .where(EscalationStep.status == "pending", col(EscalationStep.due_at) <= now)
            .order_by(col(EscalationStep.due_at), col(EscalationStep.warning_id), col(EscalationStep.action),
                      col(Obligation.group_id), col(EscalationStep.id)).limit(batch)
        )).all())


async def _fence(session: AsyncSession, ids: list[int]) -> None:
    """Lock what the steps act on before claiming them, always in this order (warnings, then obligations,
    then steps; 解除 locks the warning first, an ack its obligation first): on PostgreSQL a 解除 or an ack
    committed before this point is seen, one still running waits for us, and nothing deadlocks. A process
    that read these ids and then paused finds the warning 解除 or the person answered, and does nothing.
    (SQLite has one writer at a time: the transaction itself is the fence, and FOR UPDATE means nothing.)"""
    if session.bind.dialect.name == "sqlite":
        return
    keys = (await session.exec(select(EscalationStep.warning_id, EscalationStep.obligation_id)
                               .where(col(EscalationStep.id).in_(ids)))).all()
    wids = sorted({w for w, _ in keys})
    oids = sorted({o for _, o in keys if o is not None})
    # exclusive, not shared: a batch may write its warning (rolling line, expiry), and two batches each
    # holding a shared lock and wanting to write would deadlock
    await session.exec(select(Warning.id).where(col(Warning.id).in_(wids)).order_by(col(Warning.id))
                       .with_for_update())
    if oids:
        await session.exec(select(Obligation.id).where(col(Obligation.id).in_(oids)).order_by(col(Obligation.id))
                           .with_for_update())


async def run_batch(app: Any, ids: list[int], now: datetime) -> int:
    """Claim the steps (pending → done) and do their work in one transaction: each runs exactly once, with
    two bot processes or after a crash. Due order holds: a chain catching up after downtime runs its next
    steps ahead of later warning-level steps."""
    token = uuid.uuid4().hex[:16]
    async with transaction(app.sessions) as session:
        await _fence(session, ids)
        mine = (select(EscalationStep.id).where(col(EscalationStep.id).in_(ids), EscalationStep.status == "pending")
                .with_for_update(skip_locked=True))  # rows another process is claiming are left to it
        claimed = (await session.exec(
            update(EscalationStep).where(col(EscalationStep.id).in_(mine.scalar_subquery()))
            .values(status="done", run_token=token, executed_at=now).returning(EscalationStep.id)
        )).scalars().all()
        if not claimed:
            return 0  # another process (or an earlier run) took them
        table = EscalationStep.__table__  # type: ignore[attr-defined]
        conn = await session.connection()
        rows = (await conn.execute(select(table.c.id, table.c.warning_id, table.c.obligation_id, table.c.action,
                                          table.c.seq, table.c.due_at).where(table.c.id.in_(claimed)))).all()
        # re-mentions and private reminders in bulk first, then the rest (warning-level steps, calls, AB
        # backups) through their actions, which read the obligations fresh
        bulk = [r for r in rows if r.obligation_id is not None and r.action in BULK_ACTIONS]
        rest = [r.id for r in rows if r.obligation_id is None or r.action not in BULK_ACTIONS]
        ran = worst = 0
        if bulk:
            ran, worst = await run_bulk(app, session, bulk, now, token)
        if rest:
            n, late = await run_steps(app, session, rest, now, token)
            ran, worst = ran + n, max(worst, late)
    if worst > LATE_LOG_S:
        app.log.warning("escalation_steps_late", steps=ran, late_s=round(worst))
    return ran


async def run_steps(app: Any, session: AsyncSession, claimed: list[int], now: datetime, token: str) -> tuple[int, float]:
    """The general path: each step through its action on ORM objects (warning-level steps, calls, AB backups)."""
    steps = (await session.exec(select(EscalationStep).where(col(EscalationStep.id).in_(claimed)))).all()
    b = Batch(app, session, Outbox(session, app.data), now)
    ob_ids = [s.obligation_id for s in steps if s.obligation_id is not None]
    for o in (await session.exec(select(Obligation).where(col(Obligation.id).in_(ob_ids)))).all():
        b.obligations[o.id] = o  # type: ignore[index]
    order = itertools.count()
    heap = [(s.due_at, next(order), s) for s in steps]
    heapq.heapify(heap)
    ran, worst = 0, 0.0
    while heap:
        _, _, step = heapq.heappop(heap)
        ran += 1
        worst = max(worst, (now - step.due_at).total_seconds())
        nxt = await _run(b, step, token)
        if nxt is not None:
            heapq.heappush(heap, (nxt.due_at, next(order), nxt))
    b.flush_reminders()
    await calls.flush(app, session, b.outbox, b.calls, now)
    return ran, worst


async def _run(b: Batch, step: EscalationStep, token: str) -> EscalationStep | None:
    late = (b.now - step.due_at).total_seconds()
    step.late_s = late
    w = await b.warning(step.warning_id)
    if w is None or w.status != "active" or step.run_token != token or (_expired(b, w) and step.action != "expire"):
        step.status = "cancelled"  # 解除, expired (even if its expiry step has not run yet), or not ours
        b.session.add(step)
        return None
    await ACTIONS[step.action](b, w, step)
    b.session.add(step)
    if step.obligation_id is None or step.status != "done":
        return None
    nxt = next_obligation_step(b.app.cfg, w.level, w.id, step.obligation_id,  # type: ignore[arg-type]
                               w.activated_at or w.issued_at, step.seq)
    if nxt is None:
        return None
    if nxt.due_at <= b.now:  # already due: it is ours to run in this batch
        nxt.status, nxt.run_token, nxt.executed_at = "done", token, b.now
    b.session.add(nxt)  # written at the commit, with everything else of the batch
    return nxt if nxt.status == "done" else None


def _expired(b: Batch, w: Warning) -> bool:
    """Past its lifetime: after downtime, a chase step due hours ago must not call anyone now."""
    return b.now >= (w.activated_at or w.issued_at) + timedelta(hours=b.app.cfg.warnings.expire_hours)


async def _obligation(b: Batch, step: EscalationStep) -> Obligation | None:
    o = b.obligations.get(step.obligation_id) if step.obligation_id else None
    if o is None and step.obligation_id:
        o = await b.session.get(Obligation, step.obligation_id)
        if o is not None:
            b.obligations[step.obligation_id] = o
    if o is None or o.state not in SILENT_STORED:
        step.status = "cancelled"  # answered in time: nothing to do
        return None
    if o.state == "sent":  # 未叫醒 stays 未叫醒 while the chase goes on
        o.state = "escalated"
    o.escalations += 1
    b.session.add(o)
    return o


def _record(session: AsyncSession, w: Warning, o: Obligation | None, person_id: str | None, channel: str, text: str,
            now: datetime) -> None:
    session.add(CallRecord(warning_id=w.id, obligation_id=o.id if o else None, person_id=person_id, at=now,  # type: ignore[arg-type]
                           direction="out", channel=channel, text=text))


def _minutes(w: Warning, now: datetime) -> str:
    return f"{(now - (w.activated_at or w.issued_at)).total_seconds() / 60:.0f}"


async def remention(b: Batch, w: Warning, step: EscalationStep) -> None:
    o = await _obligation(b, step)
    if o is None:
        return
    p = b.app.directory.people.get(o.person_id)
    group = b.app.directory.groups.get(o.group_id or "") or b.app.directory.region_group(o.region)
    if p is not None and group is not None:
        b.remind.setdefault((w.id, group.id), []).append((p, o))  # type: ignore[arg-type]


async def private(b: Batch, w: Warning, step: EscalationStep) -> None:
    o = await _obligation(b, step)
    p = b.app.directory.people.get(o.person_id) if o else None
    if o is None or p is None:
        return
    text = f"【催叫】{w.title}，您尚未回应，请立即回复“收到”或数字1。"
    b.outbox.to_person(p, text, reason="escalation", correlation_id=f"warning:{w.id}")
    _record(b.session, w, o, p.id, "private", text, b.now)


def _phone(b: Batch, w: Warning, o: Obligation, person_id: str, kind: str, why: str = "本人未回应") -> None:
    p = b.app.directory.people.get(person_id)
    if p is None:
        return
    if not p.phone:
        _record(b.session, w, o, p.id, kind, "无电话号码，未能拨打", b.now)
        return
    calls.request(b.calls, kind, p, calls.Reason(w, o, why))  # placed once per number when the batch ends


async def call(b: Batch, w: Warning, step: EscalationStep) -> None:
    o = await _obligation(b, step)
    if o is not None:
        _phone(b, w, o, o.person_id, "voice")


async def sms(b: Batch, w: Warning, step: EscalationStep) -> None:
    o = await _obligation(b, step)
    if o is not None:
        _phone(b, w, o, o.person_id, "sms")


async def backup(b: Batch, w: Warning, step: EscalationStep) -> None:
    """Wake the AB backup: their own obligation, a private message and a call."""
    o = await _obligation(b, step)
    p = b.app.directory.people.get(o.person_id) if o else None
    bp = b.app.directory.people.get(p.backup or "") if p else None
    if o is None or p is None or bp is None:
        return
    existing = (await b.session.exec(select(Obligation).where(Obligation.warning_id == w.id,
                                                              Obligation.person_id == bp.id))).first()
    bo = existing or Obligation(warning_id=w.id, person_id=bp.id, region=o.region, group_id=o.group_id,
                                title=f"{o.title}B角", backup_of=o.id, sent_at=b.now)
    b.session.add(bo)
    await b.session.flush()
    text = f"【AB角叫应】{w.title}：{p.name}（A角）{_minutes(w, b.now)}分钟未回应，请您立即回复“收到”并落实。"
    b.outbox.to_person(bp, text, reason="escalation", correlation_id=f"warning:{w.id}")
    _record(b.session, w, bo, bp.id, "private", text, b.now)
    if bo.state in SILENT_STORED:  # a B角 who has answered this warning is awake: the message is enough
        _phone(b, w, bo, bp.id, "voice", f"{p.name}（A角）未回应，您是其B角")


async def notify_superior(b: Batch, w: Warning, step: EscalationStep) -> None:
    """The 未叫醒 list to each silent person's superior, and the whole list to the duty officer."""
    app, session, outbox, now = b.app, b.session, b.outbox, b.now
    # the people this list names are 未叫醒 from now on, in every other output too (AB backups were
    # only just called: they are judged at the end)
    silent = declare_unwoken([o for o in await silent_obligations(session, w.id) if o.backup_of is None], now)
    session.add_all(silent)
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
    text = f"【未叫醒名单】{w.title}已过{_minutes(w, now)}分钟，未叫醒{len(silent)}人：{_names(app, silent)}"
    # what was listed when: a last step due at the same moment does not send the same names again
    w.meta = {**w.meta, "unwoken_listed": [now.isoformat(), sorted(o.id for o in silent if o.id is not None)]}
    b.session.add(w)
    for officer in duty_officers(app, w):
        outbox.to_person(officer, text, reason="unwoken", correlation_id=f"warning:{w.id}")


async def rolling(b: Batch, w: Warning, step: EscalationStep) -> None:
    """One rolling line per group instead of one reply per person; posted only when it changed."""
    app, session, outbox, now = b.app, b.session, b.outbox, b.now
    lines = await rolling_lines(app, session, w)
    last = dict(w.meta.get("rolling", {}))
    rows: list[dict[str, Any]] = []
    changed = []
    for gid, line in lines.items():
        if last.get(gid) != line and gid in app.directory.groups:
            rows += outbox.group_rows(app.directory.groups[gid], line, reason="rolling", correlation_id=f"warning:{w.id}")
            last[gid] = line
            changed.append(line)
    await outbox.insert_many(rows)  # a line for each of 1,810 groups: plain rows
    if changed and issued_elsewhere(app, w):  # the chat it was issued from follows along too
        outbox.to_chat(w.origin_transport, w.origin_chat, "\n".join(changed), reason="rolling",  # type: ignore[arg-type]
                       correlation_id=f"warning:{w.id}")
    w.meta = {**w.meta, "rolling": last}
    session.add(w)
    anyone_silent = (await session.exec(select(Obligation.id).where(
        Obligation.warning_id == w.id, col(Obligation.state).in_(SILENT_STORED)).limit(1))).first()
    if anyone_silent is not None:
        session.add(EscalationStep(warning_id=w.id, action="rolling", seq=step.seq + 1,
                                   due_at=now + timedelta(seconds=app.cfg.warnings.summary_every_s)))


def issued_elsewhere(app: Any, w: Warning) -> bool:
    """Issued from a chat that is not one of the warning's target groups."""
    if not w.origin_chat or not w.origin_transport:
        return False
    return all(app.directory.groups[g].ids.get(w.origin_transport) != w.origin_chat
               for g in w.groups if g in app.directory.groups)


async def finalize(b: Batch, w: Warning, step: EscalationStep) -> None:
    """After the last step: whoever is still silent is 未叫醒."""
    app, session, outbox = b.app, b.session, b.outbox
    silent = declare_unwoken(await silent_obligations(session, w.id), b.now)
    session.add_all(silent)
    named = [o for o in silent if o.backup_of is None]
    backups = [o for o in silent if o.backup_of is not None]
    if silent:  # counted as the 总结 counts them: named people, and AB backups apart
        listed = [b.now.isoformat(), sorted(o.id for o in named if o.id is not None)]
        same = not backups and named and w.meta.get("unwoken_listed") == listed
        names = "，名单同上" if same else (f"：{_names(app, named)}" if named else "")  # not the same list twice
        text = f"【未叫醒】{w.title}催叫结束，未叫醒{len(named)}人" + names
        if backups:
            text += f"；AB角未叫醒{len(backups)}人：{_names(app, backups)}"
        for officer in duty_officers(app, w):
            outbox.to_person(officer, text, reason="unwoken", correlation_id=f"warning:{w.id}")


async def expire(b: Batch, w: Warning, step: EscalationStep) -> None:
    await close_warning(b.app, b.session, b.outbox, w, b.now, closed_by="到期")


ACTIONS = {"remention": remention, "private": private, "call": call, "sms": sms, "backup": backup,
           "notify_superior": notify_superior, "rolling": rolling, "finalize": finalize, "expire": expire}


async def silent_obligations(session: AsyncSession, warning_id: int | None) -> list[Obligation]:
    """Everyone who has not answered (待回应, 催叫中 or 未叫醒)."""
    states = SILENT_STORED
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
