"""A warning's board: every named person, their state, each attempt per channel, the ack and the measures.

Read a page at a time so that a warning naming 20,000 people renders as fast as one naming 20."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.directory import Directory
from handlers.warnings.summary import RULE_S, ack_seconds
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

PAGE = 100
CHANNELS = {"group": "群内@", "private": "私信", "voice": "电话", "sms": "短信"}
ACTIONS = {"remention": "群内再次@", "private": "私信催叫", "call": "电话", "sms": "短信", "backup": "叫AB角",
           "notify_superior": "报上级"}
SILENT = ("sent", "escalated", "unwoken")
# Until issue 11's one state function lands: the obligation's stored state, named in Chinese.
STATE_NAMES = {"sent": "未回应", "escalated": "催叫中", "acked": "已回应", "responded": "已报措施", "unwoken": "未叫醒"}
WARNING_STATUS = {"active": "进行中", "closed": "已解除", "preview": "待确认", "cancelled": "已取消"}


@dataclass
class Attempt:
    channel: str
    count: int
    last: datetime


@dataclass
class BoardRow:
    obligation: Obligation
    name: str
    unit: str
    state: str
    attempts: list[Attempt] = field(default_factory=list)
    next_step: str | None = None
    next_due: datetime | None = None
    latency_s: float | None = None

    @property
    def silent(self) -> bool:
        return self.obligation.state in SILENT

    @property
    def late(self) -> bool:
        return self.latency_s is not None and self.latency_s > RULE_S


@dataclass
class Board:
    warning: Warning
    counts: dict[str, int]
    rows: list[BoardRow]
    page: int
    pages: int
    silent_only: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def answered(self) -> int:
        return self.counts.get("acked", 0) + self.counts.get("responded", 0)

    @property
    def silent(self) -> int:
        return sum(n for s, n in self.counts.items() if s in SILENT)

    @property
    def status(self) -> str:
        return WARNING_STATUS.get(self.warning.status, "")


async def state_counts(session: AsyncSession, warning_id: int) -> dict[str, int]:
    rows = await session.exec(select(Obligation.state, func.count()).where(Obligation.warning_id == warning_id)
                              .group_by(Obligation.state))
    return {s: n for s, n in rows.all()}


async def board(session: AsyncSession, directory: Directory, warning_id: int, *, silent_only: bool = False,
                page: int = 1, size: int = PAGE) -> Board | None:
    w = await session.get(Warning, warning_id)
    if w is None or w.status in ("preview", "cancelled"):
        return None
    counts = await state_counts(session, warning_id)
    matching = sum(n for s, n in counts.items() if s in SILENT) if silent_only else sum(counts.values())
    pages = max(1, -(-matching // size))
    page = min(max(page, 1), pages)
    q = select(Obligation).where(Obligation.warning_id == warning_id)
    if silent_only:
        q = q.where(col(Obligation.state).in_(SILENT))
    obs = list((await session.exec(q.order_by(col(Obligation.id)).offset((page - 1) * size).limit(size))).all())
    return Board(w, counts, await rows_for(session, directory, w, obs), page, pages, silent_only)


async def rows_for(session: AsyncSession, directory: Directory, w: Warning, obs: list[Obligation]) -> list[BoardRow]:
    ids = [o.id for o in obs]
    attempts: dict[int, list[Attempt]] = {}
    for oid, channel, n, last in (await session.exec(
        select(CallRecord.obligation_id, CallRecord.channel, func.count(), func.max(CallRecord.at))
        .where(col(CallRecord.obligation_id).in_(ids), CallRecord.direction == "out")
        .group_by(CallRecord.obligation_id, CallRecord.channel)
    )).all():
        attempts.setdefault(oid, []).append(Attempt(CHANNELS.get(channel, channel), n, last))
    steps = {s.obligation_id: s for s in (await session.exec(
        select(EscalationStep).where(col(EscalationStep.obligation_id).in_(ids), EscalationStep.status == "pending")
    )).all()}
    out = []
    for o in obs:
        p = directory.people.get(o.person_id)
        unit = directory.unit_of(p)
        step = steps.get(o.id)
        out.append(BoardRow(o, p.name if p else "未登记人员", unit.name if unit else "", state_label(o),
                            sorted(attempts.get(o.id or 0, []), key=lambda a: a.last),
                            ACTIONS.get(step.action, step.action) if step else None, step.due_at if step else None,
                            ack_seconds(w, o)))
    return out


def state_label(o: Obligation) -> str:
    return STATE_NAMES.get(o.state, "")


async def version(session: AsyncSession, warning_id: int) -> tuple[Any, ...]:
    """Changes whenever anything on the board does: a call or an answer recorded, a state, the warning closed."""
    last = (await session.exec(select(func.max(CallRecord.id)).where(CallRecord.warning_id == warning_id))).one()
    status = (await session.exec(select(Warning.status).where(Warning.id == warning_id))).first()
    counts = await state_counts(session, warning_id)
    return (last, status, tuple(sorted(counts.items())))


@dataclass
class WarningLine:
    warning: Warning
    total: int
    answered: int

    @property
    def status(self) -> str:
        return WARNING_STATUS.get(self.warning.status, "")


async def warning_list(session: AsyncSession, limit: int = 100) -> list[WarningLine]:
    ws = list((await session.exec(select(Warning).where(col(Warning.status).in_(["active", "closed"]))
                                  .order_by(col(Warning.id).desc()).limit(limit))).all())
    ids = [w.id for w in ws]
    answered = col(Obligation.state).in_(["acked", "responded"])
    tallies = {wid: (n, a or 0) for wid, n, a in (await session.exec(
        select(Obligation.warning_id, func.count(), func.sum(func.cast(answered, _int())))
        .where(col(Obligation.warning_id).in_(ids)).group_by(Obligation.warning_id)
    )).all()}
    return [WarningLine(w, *tallies.get(w.id, (0, 0))) for w in ws]


def _int() -> Any:
    from sqlalchemy import Integer

    return Integer
