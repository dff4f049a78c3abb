"""Phone calls and SMS of an escalation: one call per number per window, carrying every reason.

A person can be due a call for several reasons at once (silent themselves, and the AB backup of someone
silent; or named in two warnings). The steps of one batch ask for calls here; `flush` places one call per
number with all the reasons in its record. Voice providers cap calls per callee (Aliyun: 1 a minute,
5 an hour, 20 a day): a number called within the last minute is not called again (the reason joins that
call's record); when the hour or day budget is spent the person gets an SMS instead, and the record says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outbox import Outbox
from models.warnings import CallRecord, Obligation, Warning

WINDOW = timedelta(minutes=1)


@dataclass
class Reason:
    warning: Warning
    obligation: Obligation
    text: str  # 本人未回应 / 金立军（A角）未回应


@dataclass
class Pending:
    kind: str  # voice | sms
    person: Any
    reasons: list[Reason] = field(default_factory=list)


def request(calls: dict[tuple[str, str], Pending], kind: str, person: Any, reason: Reason) -> None:
    key = (kind, person.phone)
    calls.setdefault(key, Pending(kind, person)).reasons.append(reason)


def _text(kind: str, reasons: list[Reason]) -> str:
    warnings = list({r.warning.id: r.warning for r in reasons}.values())
    what = "；".join(f"{w.kind}：{w.level}{w.type}，编号{w.id}" for w in warnings)
    why = "；".join(dict.fromkeys(r.text for r in reasons))
    return f"应急管理{what}，请立即在工作群回复收到。（{why}）"


async def _history(session: AsyncSession, phones: list[str], now: datetime) -> dict[str, set[datetime]]:
    """The instants each number was called in the last day (one query per 500 numbers, not per call).
    One call serving two warnings has a row in each at the same instant: instants, not rows, are calls."""
    out: dict[str, set[datetime]] = {p: set() for p in phones}
    for i in range(0, len(phones), 500):
        rows = await session.exec(select(CallRecord.phone, CallRecord.at).where(
            col(CallRecord.phone).in_(phones[i:i + 500]), CallRecord.channel == "voice",
            col(CallRecord.at) > now - timedelta(days=1)))
        for phone, at in rows.all():
            out[phone].add(at)  # type: ignore[index]
    return out


async def flush(app: Any, session: AsyncSession, outbox: Outbox, calls: dict[tuple[str, str], Pending],
                now: datetime) -> None:
    budget = app.cfg.warnings.call_budget
    history = await _history(session, [phone for kind, phone in calls if kind == "voice"], now)
    for (kind, phone), pending in calls.items():
        reasons, first = pending.reasons, pending.reasons[0]
        if kind == "voice":
            def recent(ago: timedelta, phone: str = phone) -> int:
                return sum(at > now - ago for at in history[phone])

            if recent(WINDOW) >= budget.per_minute:
                await _join_last_call(session, pending, now)
                continue
            spent = None
            for span, limit, ago in (("小时", budget.per_hour, timedelta(hours=1)),
                                     ("天", budget.per_day, timedelta(days=1))):
                if recent(ago) >= limit:
                    spent = f"每{span}最多{limit}次"
                    break
            if spent is not None:
                text = _text("sms", reasons)
                outbox.to_chat("sms", f"tel:{phone}", text, reason="escalation",
                               correlation_id=f"warning:{first.warning.id}")
                for w in {r.warning.id: r.warning for r in reasons}.values():
                    _record(session, w, first.obligation, pending.person.id, "sms", phone,
                            f"电话呼叫已达上限（{spent}），改发短信：{text}", now)
                continue
        text = _text(kind, reasons)
        outbox.to_chat(kind, f"tel:{phone}", text, reason="escalation", correlation_id=f"warning:{first.warning.id}")
        done: set[int | None] = set()
        for r in reasons:  # one record per warning the call serves (one call, one row, for a single warning)
            if r.warning.id not in done:
                done.add(r.warning.id)
                _record(session, r.warning, r.obligation, pending.person.id, kind, phone, text, now)
    calls.clear()


async def _join_last_call(session: AsyncSession, pending: Pending, now: datetime) -> None:
    """Called within the last minute: no second call; this call's reasons are added to that call's record."""
    phone = pending.person.phone
    last = (await session.exec(select(CallRecord).where(CallRecord.phone == phone, CallRecord.channel == "voice")
                               .order_by(col(CallRecord.at).desc(), col(CallRecord.id).desc()))).first()
    why = "；".join(dict.fromkeys(r.text for r in pending.reasons))
    for w in {r.warning.id: r.warning for r in pending.reasons}.values():
        if last is not None and last.warning_id == w.id:
            last.text = f"{last.text}（{now:%H:%M:%S}另因：{why}，未重复拨打）"
            session.add(last)
        else:
            first = next(r for r in pending.reasons if r.warning.id == w.id)
            at = f"{last.at:%H:%M:%S}" if last is not None else "刚才"
            _record(session, w, first.obligation, pending.person.id, "voice_joined", None,
                    f"{at}已致电此号码，每分钟最多一次，未重复拨打（{why}）", now)


def _record(session: AsyncSession, w: Warning, o: Obligation | None, person_id: str, channel: str, phone: str | None,
            text: str, now: datetime) -> None:
    session.add(CallRecord(warning_id=w.id, obligation_id=o.id if o else None, person_id=person_id, at=now,  # type: ignore[arg-type]
                           direction="out", channel=channel, text=text, phone=phone))
