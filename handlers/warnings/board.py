"""A warning's board: every named person, their state, each attempt per channel, the ack and the measures.

Read a page at a time so that a warning naming 20,000 people renders as fast as one naming 20."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.warnings.state import ANSWERED, SILENT_STORED, Row, board_rows, person_state
from handlers.warnings.summary import RULE_S
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

PAGE = 100
CHANNELS = {"group": "群内@", "private": "私信", "voice": "电话", "sms": "短信"}
ACTIONS = {"remention": "群内再次@", "private": "私信催叫", "call": "电话", "sms": "短信", "backup": "叫AB角",
           "notify_superior": "报上级"}
WARNING_STATUS = {"active": "进行中", "closed": "已解除", "preview": "待确认", "cancelled": "已取消"}


@dataclass
class Attempt:
    """Every call out on one channel, oldest first."""

    channel: str
    times: list[datetime]

    @property
    def count(self) -> int:
        return len(self.times)

    @property
    def last(self) -> datetime:
        return self.times[-1]


@dataclass
class BoardRow:
    """The one state row (handlers.warnings.state) with what the board adds: attempts and the next step."""

    obligation: Obligation
    row: Row
    unit: str
    attempts: list[Attempt] = field(default_factory=list)
    next_step: str | None = None
    next_due: datetime | None = None

    @property
    def silent(self) -> bool:
        return self.obligation.state in SILENT_STORED

    @property
    def late(self) -> bool:
        return self.row.ack_s is not None and self.row.ack_s > RULE_S


@dataclass
class Board:
    warning: Warning
    counts: dict[str, int]  # by the one state (待回应, 催叫中, 未叫醒, 已回应, 已解除)
    stored: dict[str, int]  # by stored state, for the filter's page count
    rows: list[BoardRow]
    page: int
    pages: int
    silent_only: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def answered(self) -> int:
        return self.counts.get(ANSWERED, 0)

    @property
    def silent(self) -> int:
        return self.total - self.answered

    @property
    def status(self) -> str:
        return WARNING_STATUS.get(self.warning.status, "")


async def state_counts(session: AsyncSession, warning_id: int) -> dict[str, int]:
    rows = await session.exec(select(Obligation.state, func.count()).where(Obligation.warning_id == warning_id)
                              .group_by(Obligation.state))
    return {s: n for s, n in rows.all()}


def by_state(w: Warning, stored: dict[str, int]) -> dict[str, int]:
    """Counts by stored state, named by the one state function (one dummy obligation per stored state)."""
    out: dict[str, int] = {}
    for s, n in stored.items():
        name = person_state(Obligation(state=s), w)
        out[name] = out.get(name, 0) + n
    return out


async def board(session: AsyncSession, app: Any, warning_id: int, *, silent_only: bool = False,
                page: int = 1, size: int = PAGE) -> Board | None:
    w = await session.get(Warning, warning_id)
    if w is None or w.status in ("preview", "cancelled"):
        return None
    stored = await state_counts(session, warning_id)
    matching = sum(n for s, n in stored.items() if s in SILENT_STORED) if silent_only else sum(stored.values())
    pages = max(1, -(-matching // size))
    page = min(max(page, 1), pages)
    q = select(Obligation).where(Obligation.warning_id == warning_id)
    if silent_only:
        q = q.where(col(Obligation.state).in_(SILENT_STORED))
    obs = list((await session.exec(q.order_by(col(Obligation.id)).offset((page - 1) * size).limit(size))).all())
    return Board(w, by_state(w, stored), stored, await rows_for(session, app, w, obs), page, pages, silent_only)


async def rows_for(session: AsyncSession, app: Any, w: Warning, obs: list[Obligation]) -> list[BoardRow]:
    ids = [o.id for o in obs]
    by_channel: dict[int, dict[str, list[datetime]]] = {}
    for oid, channel, at in (await session.exec(
        select(CallRecord.obligation_id, CallRecord.channel, CallRecord.at)
        .where(col(CallRecord.obligation_id).in_(ids), CallRecord.direction == "out")
        .order_by(col(CallRecord.at), col(CallRecord.id))
    )).all():
        by_channel.setdefault(oid, {}).setdefault(channel, []).append(at)
    attempts = {oid: [Attempt(CHANNELS.get(c, c), times) for c, times in chans.items()]
                for oid, chans in by_channel.items()}
    steps = {s.obligation_id: s for s in (await session.exec(
        select(EscalationStep).where(col(EscalationStep.obligation_id).in_(ids), EscalationStep.status == "pending")
    )).all()}
    out = []
    for o, row in zip(obs, board_rows(app, w, obs), strict=True):
        unit = app.directory.unit_of(app.directory.people.get(o.person_id))
        step = steps.get(o.id)
        out.append(BoardRow(o, row, unit.name if unit else "", sorted(attempts.get(o.id or 0, []), key=lambda a: a.last),
                            ACTIONS.get(step.action, step.action) if step else None, step.due_at if step else None))
    return out


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
