"""The durable outbox: every outbound message is a row first, then a delivery.

`Outbox` writes rows inside the caller's transaction. `OutboxSender` delivers due rows through the
transports under a per-account rate limit, with retries and backoff.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import insert, or_
from sqlmodel import col, select, update

from bot.clock import Clock
from bot.config import Group, OutboxConfig, Person
from bot.directory import Directory
from bot.events import InboundMessage, Mention, OutboundMessage
from bot.text import split_text
from models.core import OutboxEntry
from models.db import transaction

LEASE = timedelta(seconds=120)


class Outbox:
    """Queue messages in the current unit of work."""

    def __init__(self, session: Any, data: Mapping[str, Any]) -> None:
        self.session = session
        self.clock: Clock = data["clock"]
        self.directory: Directory = data["directory"]
        self.cfg: OutboxConfig = data["directory"].cfg.outbox
        self.transports: list[str] = data["transport_names"]
        self.count = 0

    def to_chat(
        self,
        transport: str,
        chat_id: str,
        text: str,
        *,
        mentions: Iterable[Mention] = (),
        attachment: str | None = None,
        reason: str = "reply",
        correlation_id: str | None = None,
        account: str = "default",
    ) -> list[OutboxEntry]:
        rows = [OutboxEntry(**r) for r in self.chat_rows(transport, chat_id, text, mentions=mentions,
                                                         attachment=attachment, reason=reason,
                                                         correlation_id=correlation_id, account=account)]
        self.session.add_all(rows)
        self.count += len(rows)
        return rows

    def chat_rows(
        self,
        transport: str,
        chat_id: str,
        text: str,
        *,
        mentions: Iterable[Mention] = (),
        attachment: str | None = None,
        reason: str = "reply",
        correlation_id: str | None = None,
        account: str = "default",
    ) -> list[dict[str, Any]]:
        """The rows of one message as plain dicts, for `insert_many` (a fan-out writes no ORM objects)."""
        mentions = list(mentions)
        if mentions:
            text = " ".join(f"@{m.name}" for m in mentions) + "\u2005" + text
        now = self.clock.now()
        return [
            {"transport": transport, "account": account, "chat_id": chat_id, "text": part,
             "mentions": [{"id": m.id, "name": m.name} for m in mentions] if i == 0 else [],
             "attachment": attachment if i == 0 else None, "reason": reason, "correlation_id": correlation_id,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for i, part in enumerate(split_text(text, self.cfg.max_chars))
        ]

    def group_rows(self, group: Group, text: str, *, mention: Iterable[Person] = (), **kw: Any) -> list[dict[str, Any]]:
        """Rows for the group on every running transport it is bound on."""
        people = list(mention)
        out: list[dict[str, Any]] = []
        for transport in self.transports:
            chat_id = group.ids.get(transport)
            if chat_id:
                ments = [Mention(p.ids[transport], p.name) for p in people if p.ids.get(transport)]
                out += self.chat_rows(transport, chat_id, text, mentions=ments, account=group.account, **kw)
        return out

    def person_rows(self, person: Person, text: str, **kw: Any) -> list[dict[str, Any]]:
        for transport in self.transports:
            tid = person.ids.get(transport)
            if tid:
                return self.chat_rows(transport, f"dm:{tid}", text, account=person.account, **kw)
        return []

    async def insert_many(self, rows: list[dict[str, Any]]) -> int:
        """One bulk insert (executemany / multi-row INSERT) in the caller's transaction."""
        if rows:
            conn = await self.session.connection()
            await conn.execute(insert(OutboxEntry), rows)
        self.count += len(rows)
        return len(rows)

    def reply(self, event: InboundMessage, text: str, *, mention_sender: bool = True, **kw: Any) -> None:
        mentions = ()
        if event.is_group and mention_sender:
            person = self.directory.person(event.transport, event.sender_id)
            mentions = (Mention(event.sender_id, person.name if person else (event.sender_name or event.sender_id)),)
        self.to_chat(event.transport, event.chat_id, text, mentions=mentions, account=event.account, **kw)

    def to_group(self, group: Group, text: str, *, mention: Iterable[Person] = (), **kw: Any) -> int:
        """Send to the group on every running transport it is bound on; returns the rows written."""
        rows = [OutboxEntry(**r) for r in self.group_rows(group, text, mention=mention, **kw)]
        self.session.add_all(rows)
        self.count += len(rows)
        return len(rows)

    def to_person(self, person: Person, text: str, **kw: Any) -> int:
        rows = [OutboxEntry(**r) for r in self.person_rows(person, text, **kw)]
        self.session.add_all(rows)
        self.count += len(rows)
        return len(rows)


class OutboxSender:
    """Delivers due rows. `deliver_due()` is one pass; `run()` loops until cancelled."""

    def __init__(
        self,
        sessions: Any,
        transports: Mapping[tuple[str, str], Any],
        limiter: Any,
        clock: Clock,
        cfg: OutboxConfig,
    ) -> None:
        self.sessions = sessions
        self.transports = transports
        self.limiter = limiter
        self.clock = clock
        self.cfg = cfg
        self.log = structlog.get_logger("outbox")
        self._wake = asyncio.Event()
        self.next_due: datetime | None = None
        # which accounts this process sends for: all, unless it shares the database with another process and
        # holds leases on some (bot/leases.py)
        self.serves: Callable[[str, str], bool] = lambda transport, account: True

    def wake(self) -> None:
        self._wake.set()

    def _due(self, now: datetime) -> Any:
        return or_(
            (col(OutboxEntry.status) == "pending") & (col(OutboxEntry.next_attempt_at) <= now),
            (col(OutboxEntry.status) == "sending") & (col(OutboxEntry.lease_until) < now),
        )

    async def deliver_due(self, batch: int = 500) -> int:
        """One pass: account by account, in id order, until the account's bucket is empty."""
        now = self.clock.now()
        async with self.sessions() as session:
            accounts = (await session.exec(
                select(OutboxEntry.transport, OutboxEntry.account).where(self._due(now)).distinct()
            )).all()
        sent = 0
        blocked: dict[str, float] = {}
        for transport, account in accounts:
            if not self.serves(transport, account):
                continue
            key = f"{transport}:{account}"
            done = 0
            while done < batch and key not in blocked:
                async with self.sessions() as session:
                    rows = (await session.exec(
                        select(OutboxEntry).where(self._due(now), OutboxEntry.transport == transport,
                                                  OutboxEntry.account == account)
                        .order_by(col(OutboxEntry.id)).limit(50)
                    )).all()
                if not rows:
                    break
                for row in rows:
                    wait = await self.limiter.take(key, now)
                    if wait > 0:
                        blocked[key] = wait
                        break
                    if await self._claim(row, now):
                        sent += await self._send(row)
                    done += 1
        self.next_due = now + timedelta(seconds=min(blocked.values())) if blocked else None
        return sent

    async def _claim(self, row: OutboxEntry, now: datetime) -> bool:
        async with transaction(self.sessions) as session:
            result = await session.exec(
                update(OutboxEntry)
                .where(col(OutboxEntry.id) == row.id, col(OutboxEntry.status) == row.status)
                .values(status="sending", lease_until=now + LEASE)
            )
            return result.rowcount == 1

    async def _send(self, row: OutboxEntry) -> int:
        transport = self.transports.get((row.transport, row.account)) or self.transports.get((row.transport, "default"))
        msg = OutboundMessage(
            transport=row.transport,
            account=row.account,
            chat_id=row.chat_id,
            text=row.text,
            mentions=tuple(Mention(m["id"], m["name"]) for m in row.mentions),
            attachment=row.attachment,
        )
        values: dict[str, Any]
        try:
            if transport is None:
                raise RuntimeError(f"no transport {row.transport}/{row.account}")
            sent_id = await transport.send(msg)
            values = {"status": "sent", "sent_at": self.clock.now(), "transport_message_id": sent_id, "last_error": None}
            ok = 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts = row.attempts + 1
            failed = attempts >= self.cfg.max_attempts
            delay = timedelta(seconds=min(300, 2 ** attempts))
            values = {
                "status": "failed" if failed else "pending",
                "attempts": attempts,
                "next_attempt_at": self.clock.now() + delay,
                "last_error": repr(exc)[:500],
            }
            self.log.warning("send_failed", id=row.id, attempts=attempts, error=repr(exc), final=failed)
            ok = 0
        async with transaction(self.sessions) as session:
            await session.exec(update(OutboxEntry).where(col(OutboxEntry.id) == row.id).values(**values))
        return ok

    async def run(self, idle_s: float = 1.0) -> None:
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("outbox_pass_failed")
            timeout = idle_s
            if self.next_due is not None:
                timeout = max(0.05, min(idle_s, (self.next_due - self.clock.now()).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
