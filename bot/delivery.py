"""Delivery as operators see it: each account's backlog, the failed messages (listed and retried from the
console's 系统 page), and the people no running account can reach privately."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.audit import audit
from bot.config import Person
from models.core import OutboxEntry

T = OutboxEntry.__table__


async def failed_messages(session: AsyncSession, limit: int = 100) -> list[dict[str, Any]]:
    """The newest failed rows: what, where, why; `retry_failed` sends one again."""
    q = (select(T.c.id, T.c.transport, T.c.account, T.c.chat_id, T.c.text, T.c.reason, T.c.attempts, T.c.last_error,
                T.c.created_at)
         .where(T.c.status == "failed").order_by(T.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in (await (await session.connection()).execute(q)).all()]


async def retry_failed(session: AsyncSession, entry_id: int, now: datetime, by: str) -> bool:
    """Put a failed row back in the queue (as new, at its own lane); audited. False if it is not failed."""
    result = await (await session.connection()).execute(update(T).where(T.c.id == entry_id, T.c.status == "failed")
                                   .values(status="pending", attempts=0, next_attempt_at=now, created_at=now,
                                           lease_until=None))
    if result.rowcount != 1:
        return False
    audit(session, by, "retry_message", now, outbox_id=entry_id)
    return True


async def backlog(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """Unsent rows per `transport:account`, with the oldest's creation time."""
    q = (select(T.c.transport, T.c.account, func.count(), func.min(T.c.created_at))
         .where(T.c.status.in_(("pending", "sending"))).group_by(T.c.transport, T.c.account))
    out: dict[str, dict[str, Any]] = {}
    for transport, account, n, oldest in (await (await session.connection()).execute(q)).all():
        out[f"{transport}:{account}"] = {"pending": n, "oldest": oldest.isoformat() if oldest else None}
    failed = select(T.c.transport, T.c.account, func.count()).where(T.c.status == "failed").group_by(T.c.transport, T.c.account)
    for transport, account, n in (await (await session.connection()).execute(failed)).all():
        out.setdefault(f"{transport}:{account}", {"pending": 0, "oldest": None})["failed"] = n
    return out


def unreachable_people(app: Any, transport: str = "wechaty") -> list[Person]:
    """People with an id on the transport whom no logged-in account has as a contact.

    Empty while no account has reported its contact list (nothing is known yet)."""
    accounts = [t for (name, _), t in app.transports.items() if name == transport]
    lists = [t.contacts for t in accounts if getattr(t, "contacts", None)]
    if not lists:
        return []
    known = set().union(*lists)
    return [p for p in app.directory.people.values() if p.ids.get(transport) and p.ids[transport] not in known]


async def notify_failed(app: Any, kind: str, info: dict[str, Any]) -> None:
    """A message failed for good: tell the admins privately, once, in one line."""
    from bot.outbox import Outbox
    from models.db import transaction

    if kind != "failed":
        return
    d = app.directory
    chat = info["chat_id"]
    group = d.group(info["transport"], chat)
    person = d.person(info["transport"], chat.removeprefix("dm:")) if chat.startswith("dm:") else None
    where = group.name if group else (f"{person.name}（私信）" if person else "未登记的会话")
    text = info["text"] if len(info["text"]) <= 30 else info["text"][:30] + "…"
    line = f"消息发送失败（编号{info['id']}，发往{where}）：“{text}”。原因：{info['error']}。可在控制台“系统”页重试。"
    async with transaction(app.sessions) as session:
        outbox = Outbox(session, app.data)
        for admin in d.with_role("admin"):
            outbox.to_person(admin, line, reason="failed_notice")
