"""回应: what people really type when they answer a warning, in the group or privately."""
from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Person
from bot.dispatch import Router
from bot.dispatch.filters import Usage
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.text import clean
from handlers.reports.parse.classify import is_answer
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

router = Router(__name__, "叫应")
RESPONDERS = ("responsible", "reporter")  # 报送员 answer 提示函 receipts
MEASURES = re.compile(
    r"已(?:经)?(?:转移|撤离|启动|组织|安排|部署|落实|开展|派出|关闭|封闭|停工|停产|巡查|排查|加固|预置|通知|疏散|值守|到岗)"
    r"|转移[^，。]{0,8}\d+\s*人|[ⅠⅡⅢⅣ1-4一二三四]级(?:应急)?响应|\d+\s*(?:人|名)(?:已)?(?:到岗|在岗|值守)"
)
_EXPLICIT = re.compile(r"(?:收到|回应|明白)\s*[#＃]?\s*(\d+)")
# WeChat shows a quote-reply as 「张三：…叫应#3…」 above a divider, then the reply
_QUOTE = re.compile(r"「[^」]*?(?:叫应|提示函)#(\d+)[^」]*」\s*(?:-\s*){0,12}", re.S)
OPEN = ("sent", "escalated", "unwoken")


async def _open_for(session: AsyncSession, person_id: str, states: tuple[str, ...]) -> list[tuple[Obligation, Warning]]:
    rows = await session.exec(
        select(Obligation, Warning).join(Warning, col(Warning.id) == col(Obligation.warning_id))
        .where(Obligation.person_id == person_id, col(Obligation.state).in_(states), Warning.status == "active")
        .order_by(col(Obligation.sent_at).desc(), col(Obligation.id).desc())
    )
    return list(rows.all())


async def _ack_filter(data: dict[str, Any]) -> dict[str, Any] | bool:
    person: Person | None = data.get("person")
    event: InboundMessage = data["event"]
    if person is None:
        return False
    text = clean(event.text).strip()
    text = re.sub(r"^@\S+\s*", "", text).strip()
    quoted = await _quoted_warning(data, event)
    q = _QUOTE.search(text)
    if q is not None:
        quoted = quoted or int(q.group(1))
        text = (text[: q.start()] + text[q.end():]).strip() or "收到"
    acky = is_answer(text, not event.is_group) or quoted is not None
    measures = bool(MEASURES.search(text))
    if not acky and not measures:
        return False
    session: AsyncSession = data["session"]
    states = OPEN if acky else (*OPEN, "acked", "responded")
    pending = await _open_for(session, person.id, states)
    if not pending:
        return False
    explicit = _EXPLICIT.search(text)
    wanted = int(explicit.group(1)) if explicit else quoted
    if wanted is not None:
        chosen = next(((o, w) for o, w in pending if w.id == wanted), None)
        if chosen is None:
            return {"ack_error": f"您没有待回应的编号{wanted}。", "pending": pending}
    else:
        chosen = pending[0]
    return {"obligation": chosen[0], "warning": chosen[1], "pending": pending, "ack_text": text, "measures": measures,
            "ack_error": None}


async def _quoted_warning(data: dict[str, Any], event: InboundMessage) -> int | None:
    """A quote-reply of the warning message counts as an answer to that warning."""
    if not event.quote_id:
        return None
    from models.core import OutboxEntry

    row = (await data["session"].exec(select(OutboxEntry.correlation_id).where(
        OutboxEntry.transport_message_id == event.quote_id))).first()
    if row and row.startswith("warning:"):
        return int(row.split(":", 1)[1])
    return None


@router.message(Usage("回应叫应：回复“收到”（有多个待回应时“收到 编号”），并报告落实措施", roles=RESPONDERS), _ack_filter)
async def acknowledge(event: InboundMessage, session: AsyncSession, outbox: Outbox, ack_error: str | None,
                      pending: list, obligation: Obligation | None = None, warning: Warning | None = None,
                      ack_text: str = "", measures: bool = False) -> str:
    if ack_error:
        listed = "、".join(f"#{w.id}" for _, w in pending)
        outbox.reply(event, f"{ack_error}待回应：{listed}")
        return "ack_unknown"
    assert obligation is not None and warning is not None
    now = event.received_at
    channel = "group" if event.is_group else "private"
    first = obligation.state in OPEN
    others = "、".join(f"#{w.id}" for o, w in pending if w.id != warning.id and o.state in OPEN)
    late = obligation.state == "unwoken"  # already on a 未叫醒名单: recorded, and marked late
    if first:
        obligation.state = "acked"
        obligation.acked_at = now
        obligation.ack_channel = channel
        obligation.ack_text = ack_text[:500]
        session.add(CallRecord(warning_id=warning.id, obligation_id=obligation.id, person_id=obligation.person_id,  # type: ignore[arg-type]
                               at=now, direction="in", channel="ack",
                               text=("（超时回应，已列入未叫醒名单）" if late else "") + ack_text[:500]))
    if measures:
        obligation.state = "responded"
        obligation.responded_at = now
        obligation.response = ack_text[:500] if not obligation.response else f"{obligation.response}；{ack_text[:300]}"
        session.add(CallRecord(warning_id=warning.id, obligation_id=obligation.id, person_id=obligation.person_id,  # type: ignore[arg-type]
                               at=now, direction="in", channel="response", text=ack_text[:500]))
    session.add(obligation)
    if first:  # answered: its pending escalation step is void
        await session.exec(update(EscalationStep).where(col(EscalationStep.obligation_id) == obligation.id,
                                                        col(EscalationStep.status) == "pending").values(status="cancelled"))
    reply = ack_reply(warning.title, others if first else "", not event.is_group,
                      "落实措施" if measures and not first else "回应", ask_measures=not measures)
    if reply:
        outbox.reply(event, reply)
    return "ack" if first else "response"


def ack_reply(title: str, others: str, private: bool, what: str = "回应", ask_measures: bool = True) -> str | None:
    """What an answer is told: in private always, in a group only when others of theirs are still open (a
    group of 500 must not get a line per 收到); and always which are still open."""
    still = f"您还有{others}待回应，请发“收到 编号”。" if others else ""
    if private:
        return f"已记录您对{title}的{what}。" + (still or ("如有落实措施请直接回复。" if ask_measures else ""))
    return f"已记为回应{title}；{still}" if still else None
