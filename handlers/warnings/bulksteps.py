"""Per-person escalation steps in bulk: 20,000 re-mentions due within a minute must cost a few statements per
batch, not a few ORM objects each. Plain rows in, plain rows out; the obligations' changes, the steps'
outcomes, the next steps, the call records and the messages are written once per batch.

Only batches made of re-mentions and private reminders come here; a batch with a warning-level step (the
未叫醒 list, rolling lines, 总结), a call or an AB backup goes through `escalate.run_steps`, whose actions
read the obligations through the ORM."""
from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update

from bot.outbox import Outbox
from handlers.warnings.policy import OBLIGATION_ACTIONS, plan
from handlers.warnings.state import SILENT_STORED
from models.db import bulk_insert
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

BULK_ACTIONS = frozenset({"remention", "private"})  # calls go through the per-number budget (calls.py)
OB = Obligation.__table__  # type: ignore[attr-defined]
ST = EscalationStep.__table__  # type: ignore[attr-defined]


def _minutes(w: Warning, now: datetime) -> str:
    return f"{(now - (w.activated_at or w.issued_at)).total_seconds() / 60:.0f}"


async def run_bulk(app: Any, session: Any, steps: list[Any], now: datetime, token: str) -> tuple[int, float]:
    """Run claimed per-person steps (rows with id, warning_id, obligation_id, action, seq, due_at); returns how
    many ran and the latest lateness."""
    conn = await session.connection()
    d = app.directory
    warnings = {w.id: w for w in (await session.exec(select(Warning).where(
        Warning.id.in_({s.warning_id for s in steps})))).scalars().all()}
    obs = {r.id: dict(r._mapping) for r in (await conn.execute(select(
        OB.c.id, OB.c.person_id, OB.c.state, OB.c.group_id, OB.c.region, OB.c.escalations).where(
        OB.c.id.in_({s.obligation_id for s in steps})))).all()}
    outcome: list[dict[str, Any]] = []  # claimed steps: status and lateness
    new_steps: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    outbox = Outbox(session, app.data)
    remind: dict[tuple[int, str], list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
    changed: set[int] = set()
    order = itertools.count()
    heap: list[tuple[Any, ...]] = [(s.due_at, next(order), s.warning_id, s.obligation_id, s.action, s.seq,
                                    {"sid": s.id}) for s in steps]
    heapq.heapify(heap)
    ran, worst = 0, 0.0
    while heap:
        due_at, _, wid, oid, action, seq, ref = heapq.heappop(heap)
        ran += 1
        late = (now - due_at).total_seconds()
        worst = max(worst, late)
        w, o = warnings.get(wid), obs.get(oid)
        status = "done"
        if w is None or w.status != "active" or o is None or o["state"] not in SILENT_STORED or (
                now >= (w.activated_at or w.issued_at) + timedelta(hours=app.cfg.warnings.expire_hours)):
            status = "cancelled"  # closed, expired (after downtime), or answered in time: nothing to do
        else:
            if o["state"] == "sent":  # 未叫醒 stays 未叫醒 while the chase goes on
                o["state"] = "escalated"
            o["escalations"] += 1
            changed.add(oid)
            p = d.people.get(o["person_id"])
            corr = f"warning:{w.id}"
            if p is not None and action == "remention":
                group = d.groups.get(o["group_id"] or "") or d.region_group(o["region"])
                if group is not None:
                    remind[(w.id, group.id)].append((p, o))
            elif p is not None and action == "private":
                text = f"【催叫】{w.title}，您尚未回应，请立即回复“收到”或数字1。"
                rows += outbox.person_rows(p, text, reason="escalation", correlation_id=corr)
                records.append(_record(w, oid, p.id, "private", text, now))
        if "sid" in ref:
            outcome.append({"sid": ref["sid"], "st": status, "late": late})
        else:  # a next step that was already due, run here
            ref.update(status=status, late_s=late)
        if status != "done":
            continue
        nxt = _next(app, w, oid, seq)
        if nxt is None:
            continue
        mine = nxt[0] <= now and nxt[1] in BULK_ACTIONS  # already due: ours to run in this batch
        row = {"warning_id": wid, "obligation_id": oid, "action": nxt[1], "seq": nxt[2], "due_at": nxt[0],
               "status": "done" if mine else "pending", "run_token": token if mine else None,
               "executed_at": now if mine else None, "late_s": None}
        new_steps.append(row)
        if mine:
            heapq.heappush(heap, (nxt[0], next(order), wid, oid, nxt[1], nxt[2], row))
    batch = app.cfg.warnings.mention_batch
    for (wid, gid), silent in remind.items():
        w, group = warnings[wid], d.groups[gid]
        text = f"请以下同志立即回应{w.kind}#{w.id}（{w.level}{w.type}），已过{_minutes(w, now)}分钟未回应。回复“收到”。"
        for i in range(0, len(silent), batch):
            chunk = silent[i:i + batch]
            rows += outbox.group_rows(group, text, mention=[p for p, _ in chunk], reason="escalation",
                                      correlation_id=f"warning:{w.id}")
            records += [_record(w, o["id"], p.id, "group", text, now) for p, o in chunk]
    if outcome:
        await conn.execute(update(ST).where(ST.c.id == bindparam("sid"))
                           .values(status=bindparam("st"), late_s=bindparam("late")), outcome)
    if changed:
        await conn.execute(update(OB).where(OB.c.id == bindparam("oid"))
                           .values(state=bindparam("state_"), escalations=bindparam("n")),
                           [{"oid": i, "state_": obs[i]["state"], "n": obs[i]["escalations"]} for i in changed])
    if new_steps:
        await bulk_insert(conn, ST, new_steps)
    if records:
        await bulk_insert(conn, CallRecord, records)
    await outbox.insert_many(rows)
    return ran, worst


def _next(app: Any, w: Warning | None, oid: int, after_seq: int) -> tuple[datetime, str, int] | None:
    if w is None:
        return None
    start = w.activated_at or w.issued_at
    for minutes, action, seq in plan(app.cfg, w.level):
        if action in OBLIGATION_ACTIONS and seq > after_seq:
            return start + timedelta(minutes=minutes), action, seq
    return None


def _record(w: Warning, oid: int | None, person_id: str, channel: str, text: str, now: datetime) -> dict[str, Any]:
    return {"warning_id": w.id, "obligation_id": oid, "person_id": person_id, "at": now, "direction": "out",
            "channel": channel, "text": text}
