"""The durable outbox: every outbound message is a row first, then a delivery (bot/sender.py).

`Outbox` writes rows inside the caller's transaction, each in a priority lane."""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.util import identity_key

from bot.clock import Clock
from bot.config import Group, OutboxConfig, Person
from bot.directory import Directory
from bot.events import InboundMessage, Mention
from bot.text import split_text
from models.core import OutboxEntry
from models.db import bulk_insert
from models.warnings import Warning

T = OutboxEntry.__table__
LEVEL_LANES = {"红色": 0, "橙色": 1, "黄色": 2, "蓝色": 3}
LETTER_LANE, DAILY_LANE, REPLY_LANE = 4, 5, 6
WARNING_REASONS = frozenset({"warning", "escalation", "rolling", "unwoken", "warning_summary"})
STOPS_AT_CLOSE = frozenset({"warning", "escalation", "rolling", "unwoken"})  # not the 总结 that closes it
DAILY_REASONS = frozenset({"remind", "deadline", "consolidated", "commentary", "commentary_draft", "overdue"})


def closed_reason(closed_by: str | None) -> str:
    return "叫应已到期，不再发送" if closed_by == "到期" else "叫应已解除，不再发送"


async def drop_closed(session: Any, warning_id: int, closed_by: str | None) -> None:
    """A closed warning's calls still waiting are dropped in the closing transaction, each with the reason."""
    conn = await session.connection()
    await conn.execute(update(T).where(T.c.correlation_id == f"warning:{warning_id}",
                                          T.c.reason.in_(STOPS_AT_CLOSE), T.c.status == "pending")
                          .values(status="dropped", last_error=closed_reason(closed_by)))


def lane_for(reason: str, level: str | None = None) -> int:
    """Warnings by level, then 提示函, then the daily cycle, then everything else."""
    if level == "提示函":
        return LETTER_LANE
    if reason in WARNING_REASONS:
        return LEVEL_LANES.get(level or "", LEVEL_LANES["橙色"])
    return DAILY_LANE if reason in DAILY_REASONS else REPLY_LANE


class Outbox:
    """Queue messages in the current unit of work."""

    def __init__(self, session: Any, data: Mapping[str, Any]) -> None:
        self.session = session
        self.clock: Clock = data["clock"]
        self.directory: Directory = data["directory"]
        self.cfg: OutboxConfig = data["directory"].cfg.outbox
        self.transports: list[str] = data["transport_names"]
        app = data.get("app")
        self.running: Mapping[tuple[str, str], Any] = getattr(app, "transports", None) or {}
        self.count = 0
        self._levels: dict[str, str | None] = {}  # per correlation id: a fan-out writes 20,000 rows of one warning

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
        level: str | None = None,
    ) -> list[OutboxEntry]:
        rows = [OutboxEntry(**r) for r in self.chat_rows(transport, chat_id, text, mentions=mentions,
                                                         attachment=attachment, reason=reason,
                                                         correlation_id=correlation_id, account=account, level=level)]
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
        level: str | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of one message as plain dicts, for `insert_many` (a fan-out writes no ORM objects)."""
        mentions = list(mentions)
        if mentions:
            text = " ".join(f"@{m.name}" for m in mentions) + "\u2005" + text
        lane = lane_for(reason, level or self._warning_level(correlation_id))
        now = self.clock.now()
        return [
            {"transport": transport, "account": account, "chat_id": chat_id, "text": part,
             "mentions": [{"id": m.id, "name": m.name} for m in mentions] if i == 0 else [],
             "attachment": attachment if i == 0 else None, "reason": reason, "correlation_id": correlation_id,
             "status": "pending", "attempts": 0, "lane": lane, "lease": 0, "next_attempt_at": now, "created_at": now}
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
                account = self.account_for(transport, chat_id, group.account, "rooms")
                out += self.chat_rows(transport, chat_id, text, mentions=ments, account=account, **kw)
        return out

    def person_rows(self, person: Person, text: str, **kw: Any) -> list[dict[str, Any]]:
        for transport in self.transports:
            tid = person.ids.get(transport)
            if tid:
                account = self.account_for(transport, tid, person.account, "contacts")
                return self.chat_rows(transport, f"dm:{tid}", text, account=account, **kw)
        return []

    async def insert_many(self, rows: list[dict[str, Any]]) -> int:
        """One bulk insert (executemany on SQLite, COPY on PostgreSQL) in the caller's transaction."""
        if rows:
            await bulk_insert(await self.session.connection(), OutboxEntry, rows)
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

    def account_for(self, transport: str, target: str, configured: str, known: str) -> str:
        """The configured account if it knows the target (a contact or room on its gateway), else one that
        does, else the configured one; an account that does not run is replaced by one that does."""
        running = {acct: t for (name, acct), t in self.running.items() if name == transport}
        if not running:
            return configured

        def knows(acct: str) -> bool:
            seen = getattr(running[acct], known, None)
            return seen is None or target in seen  # a transport without a list (the simulator) knows everyone

        if configured in running and knows(configured):
            return configured
        for acct in sorted(running):
            if getattr(running[acct], known, None) and target in getattr(running[acct], known):
                return acct
        return configured if configured in running else sorted(running)[0]

    def _warning_level(self, correlation_id: str | None) -> str | None:
        """A warning's level from the session's identity map: every caller has the warning loaded."""
        if not correlation_id or not correlation_id.startswith("warning:"):
            return None
        level = self._levels.get(correlation_id) or self._load_level(correlation_id)
        if level is not None:
            self._levels[correlation_id] = level
        return level

    def _load_level(self, correlation_id: str) -> str | None:
        sync = getattr(self.session, "sync_session", None)
        with contextlib.suppress(ValueError):
            w = sync.identity_map.get(identity_key(Warning, int(correlation_id[8:]))) if sync is not None else None
            if w is not None:
                return "提示函" if w.kind == "提示函" else w.level
        return None
