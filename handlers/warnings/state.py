"""The one state of a person in a warning, and the one tally of a warning.

Every output that names a state reads it from here: the 叫应情况 reply, the 未叫醒名单, the rolling lines,
the 总结, the 叫应记录 workbook and the console's warning board (`board_rows`). The stored obligation state
says what happened (sent, escalated, acked, responded, unwoken); the warning's status says whether the
duty still runs. Nothing else decides what a person "is".
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.warnings import Obligation, Warning

PENDING = "待回应"
ANSWERED = "已回应"
CHASING = "催叫中"
UNWOKEN = "未叫醒"
CLOSED = "已解除"
STATES = (PENDING, CHASING, UNWOKEN, ANSWERED, CLOSED)
SILENT_STORED = ("sent", "escalated", "unwoken")  # stored states of someone who has not answered


def person_state(o: Obligation, w: Warning) -> str:
    """待回应 → 催叫中 → 未叫醒 (named in a 未叫醒名单 or left silent at the end), or 已回应 at any time;
    someone still 待回应/催叫中 when the warning is 解除 (or expires) is 已解除. 未叫醒 stays 未叫醒."""
    if o.state in ("acked", "responded"):
        return ANSWERED
    if o.state == "unwoken":
        return UNWOKEN
    if w.status != "active":
        return CLOSED
    return CHASING if o.state == "escalated" else PENDING


def is_late(o: Obligation) -> bool:
    """Answered after being declared 未叫醒."""
    return o.acked_at is not None and o.unwoken_at is not None and o.acked_at >= o.unwoken_at


def ack_seconds(w: Warning, o: Obligation) -> float | None:
    return (o.acked_at - (w.activated_at or o.sent_at)).total_seconds() if o.acked_at else None


@dataclass
class Tally:
    """The people of one warning by state; named people and AB backups apart."""

    warning: Warning
    named: dict[str, list[Obligation]] = field(default_factory=lambda: defaultdict(list))
    backups: dict[str, list[Obligation]] = field(default_factory=lambda: defaultdict(list))

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.named.values())

    def count(self, state: str, backups: bool = False) -> int:
        return len((self.backups if backups else self.named).get(state, []))

    def late(self) -> list[Obligation]:
        return [o for o in self.named.get(ANSWERED, []) if is_late(o)]

    def line(self) -> str:
        """The counts line the status reply and the 总结 share: `点名11人，已回应9人，未叫醒2人`."""
        parts = [f"点名{self.total}人", f"已回应{self.count(ANSWERED)}人"]
        if self.late():
            parts[-1] += f"（其中超时回应{len(self.late())}人）"
        for state in (PENDING, CHASING):
            if self.count(state):
                parts.append(f"{state}{self.count(state)}人")
        parts.append(f"未叫醒{self.count(UNWOKEN)}人")
        if self.count(CLOSED):
            parts.append(f"解除时未回应{self.count(CLOSED)}人")
        return "，".join(parts)

    def backup_line(self) -> str | None:
        n = sum(len(v) for v in self.backups.values())
        if not n:
            return None
        rest = "，".join(f"{s}{self.count(s, True)}人" for s in STATES if s != ANSWERED and self.count(s, True))
        return f"AB角：已叫{n}人，已回应{self.count(ANSWERED, True)}人" + (f"，{rest}" if rest else "")


def tally(w: Warning, obs: list[Obligation]) -> Tally:
    t = Tally(w)
    for o in obs:
        (t.backups if o.backup_of is not None else t.named)[person_state(o, w)].append(o)
    return t


async def obligations(session: AsyncSession, warning_id: int | None) -> list[Obligation]:
    return list((await session.exec(select(Obligation).where(Obligation.warning_id == warning_id)
                                    .order_by(col(Obligation.id)))).all())


async def load_tally(session: AsyncSession, w: Warning) -> Tally:
    return tally(w, await obligations(session, w.id))


def declare_unwoken(obs: list[Obligation], now: datetime) -> list[Obligation]:
    """Everyone silent among `obs` becomes 未叫醒 now (once); returns who is 未叫醒 after this."""
    out = []
    for o in obs:
        if o.state in SILENT_STORED:
            if o.state != "unwoken":
                o.state, o.unwoken_at = "unwoken", now
            out.append(o)
    return out


@dataclass
class Row:
    """One person on the warning board and in the 回应情况 sheet."""

    obligation_id: int | None
    person_id: str
    name: str
    unit: str
    region: str
    title: str
    state: str
    late: bool
    sent_at: datetime
    acked_at: datetime | None
    ack_s: float | None
    ack_text: str
    response: str
    escalations: int
    backup_of: int | None

    @property
    def state_text(self) -> str:
        return f"{self.state}（超时）" if self.late else self.state


def board_rows(app: Any, w: Warning, obs: list[Obligation]) -> list[Row]:
    """Every obligation of the warning as the board shows it; the console and the workbook use this."""
    rows = []
    for o in obs:
        p = app.directory.people.get(o.person_id)
        rows.append(Row(o.id, o.person_id, p.name if p else o.person_id, app.directory.display(p) if p else "",
                        o.region or "", o.title, person_state(o, w), is_late(o), o.sent_at, o.acked_at,
                        ack_seconds(w, o), o.ack_text or "", o.response or "", o.escalations, o.backup_of))
    return rows
