"""Delivery as operators see it: retrying a failed message, telling the admins about one, and the people no
running account can reach privately. (The backlog and the failed list are in bot/backlog.py.)"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Person
from models.core import OutboxEntry

T = OutboxEntry.__table__


async def retry_failed(session: AsyncSession, entry_id: int, now: datetime) -> bool:
    """Queue a failed row again as a new row (new rows are what the sender watches for; and the stale-reply
    rule must not drop it at once); the old row says where it went. The caller audits. False if the row is
    not failed (already retried)."""
    conn = await session.connection()
    row = (await conn.execute(select(T).where(T.c.id == entry_id, T.c.status == "failed"))).mappings().first()
    if row is None:
        return False
    again = {k: v for k, v in row.items() if k != "id"} | {
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now, "lease_until": None,
        "last_error": None, "sent_at": None, "transport_message_id": None}
    new_id = (await conn.execute(insert(T).values(**again).returning(T.c.id))).scalar_one()
    result = await conn.execute(update(T).where(T.c.id == entry_id, T.c.status == "failed")
                                .values(status="retried", last_error=f"已重新发送（编号{new_id}）"))
    return result.rowcount == 1


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
