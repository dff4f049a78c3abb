"""The durable outbox: every outbound message is a row first, then a delivery.

`Outbox` writes rows inside the caller's transaction, each in a priority lane. `OutboxSender` delivers due
rows through the transports under a per-account rate limit:
- an account whose transport is down is skipped: no attempt, no token; its rows wait and go out in order;
- each account's tokens go to the highest lane first, then by due time; one chat's rows keep their order;
- a row is claimed under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL) and only the lease holder may
  finish it, so a row left `sending` by a dead process is sent again by exactly one other;
- only a platform's permanent rejection fails a row; stale rows are dropped with a record.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm.util import identity_key

from bot.clock import Clock
from bot.config import Group, OutboxConfig, Person
from bot.directory import Directory
from bot.events import InboundMessage, Mention, OutboundMessage
from bot.text import split_text
from bot.transports.base import Rejected
from models.core import OutboxEntry
from models.db import transaction
from models.warnings import Warning

LEASE = timedelta(seconds=120)
T = OutboxEntry.__table__
LEVEL_LANES = {"红色": 0, "橙色": 1, "黄色": 2, "蓝色": 3}
LETTER_LANE, DAILY_LANE, REPLY_LANE = 4, 5, 6
WARNING_REASONS = frozenset({"warning", "escalation", "rolling", "unwoken", "warning_summary"})
STOPS_AT_CLOSE = frozenset({"warning", "escalation", "rolling", "unwoken"})  # not the 总结 that closes it
DAILY_REASONS = frozenset({"remind", "deadline", "consolidated", "commentary", "commentary_draft", "overdue"})
UNSENT = ("pending", "sending")
PAGE = 200
_COLS = (T.c.id, T.c.chat_id, T.c.lane, T.c.next_attempt_at, T.c.text, T.c.mentions, T.c.attachment, T.c.reason,
         T.c.correlation_id, T.c.attempts, T.c.created_at)


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
        """One bulk insert (executemany / multi-row INSERT) in the caller's transaction."""
        if rows:
            conn = await self.session.connection()
            await conn.execute(insert(OutboxEntry), rows)
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
        sync = getattr(self.session, "sync_session", None)
        with contextlib.suppress(ValueError):
            w = sync.identity_map.get(identity_key(Warning, int(correlation_id[8:]))) if sync is not None else None
            if w is not None:
                return "提示函" if w.kind == "提示函" else w.level
        return None


Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


class OutboxSender:
    """Delivers due rows. `deliver_due()` is one pass; `run()` loops until cancelled.

    `serves(transport, account)` says which accounts this process sends for (all by default); a process
    that holds leases on some accounts sets it."""

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
        self.notify: Notify | None = None  # told about failed rows, for the admins

    def wake(self) -> None:
        self._wake.set()

    def _due(self, now: datetime) -> Any:
        return or_(
            and_(T.c.status == "pending", T.c.next_attempt_at <= now),
            and_(T.c.status == "sending", T.c.lease_until < now),
        )

    def transport_for(self, transport: str, account: str) -> Any:
        return self.transports.get((transport, account)) or self.transports.get((transport, "default"))

    async def deliver_due(self, batch: int = 500) -> int:
        """One pass over the accounts that have due rows and a connected transport."""
        now = self.clock.now()
        async with self.sessions() as session:
            conn = await session.connection()
            accounts = (await conn.execute(select(T.c.transport, T.c.account).where(self._due(now)).distinct())).all()
        sent = 0
        blocked: dict[str, float] = {}
        for name, account in accounts:
            transport = self.transport_for(name, account)
            if not self.serves(name, account) or transport is None or not getattr(transport, "online", True):
                continue  # waits without an attempt or a token; the reconnect wakes us
            sent += await self._deliver_account(transport, name, account, now, batch, blocked)
        self.next_due = now + timedelta(seconds=min(blocked.values())) if blocked else await self._next_retry(now)
        return sent

    async def _next_retry(self, now: datetime) -> datetime | None:
        """The earliest row waiting out a backoff (rows behind it in its chat wait for it)."""
        async with self.sessions() as session:
            conn = await session.connection()
            return (await conn.execute(select(func.min(T.c.next_attempt_at))
                                       .where(T.c.status == "pending", T.c.next_attempt_at > now))).scalar_one_or_none()

    async def _deliver_account(self, transport: Any, name: str, account: str, now: datetime, batch: int,
                               blocked: dict[str, float]) -> int:
        key = f"{name}:{account}"
        sent = done = 0
        cursor: tuple[int, datetime, int] | None = None
        size = 16  # small first: most passes have a token or two; grows while the tokens last
        while done < batch:
            rows = await self._page(name, account, now, cursor, size)
            size = min(PAGE, size * 4)
            if not rows:
                break
            cursor = (rows[-1].lane, rows[-1].next_attempt_at, rows[-1].id)
            rows = await self._drop_stale(name, account, rows, now)
            queues = await self._chat_queues(name, account, {r.chat_id for r in rows})
            picked: list[Any] = []
            for row in rows:  # the heads of their chats, as far as the tokens go
                queue = queues.get((row.chat_id, row.lane))
                if not queue or queue[0] != row.id:
                    continue  # an earlier message of this chat and lane is still on its way
                wait = await self.limiter.take(key, now)
                if wait > 0:
                    blocked[key] = wait
                    break
                picked.append(row)
                queue.popleft()  # the next of this chat may follow in the same batch
            claims = await self._claim(row.id for row in picked) if picked else {}
            stuck: set[tuple[str, int]] = set()  # chats whose earlier message did not go: the rest waits
            offline = False
            for row in picked:
                chat = (row.chat_id, row.lane)
                claim = claims.get(row.id)
                if claim is None or chat in stuck or offline:
                    stuck.add(chat)
                    await self._refund(key)
                    if claim is not None:
                        await self._release(row.id, claim[0])
                    continue
                outcome = await self._send(transport, name, account, row, *claim)
                done += 1
                if outcome == "offline":
                    offline = True
                    await self._refund(key)
                elif outcome == "sent":
                    sent += 1
                elif outcome != "failed":
                    stuck.add(chat)
            if offline or key in blocked:
                break
        return sent

    async def _refund(self, key: str) -> None:
        with contextlib.suppress(Exception):
            await self.limiter.refund(key)

    async def _page(self, name: str, account: str, now: datetime, cursor: tuple[int, datetime, int] | None,
                    size: int) -> list[Any]:
        """Due rows in lane, due-time, id order, after the cursor: plain tuples, no ORM objects."""
        q = select(*_COLS).where(self._due(now), T.c.transport == name, T.c.account == account)
        if cursor is not None:
            lane, when, last = cursor
            q = q.where(or_(T.c.lane > lane, and_(T.c.lane == lane, or_(
                T.c.next_attempt_at > when, and_(T.c.next_attempt_at == when, T.c.id > last)))))
        q = q.order_by(T.c.lane, T.c.next_attempt_at, T.c.id).limit(size)
        async with self.sessions() as session:
            conn = await session.connection()
            return list((await conn.execute(q)).all())

    async def _chat_queues(self, name: str, account: str, chats: set[str]) -> dict[tuple[str, int], deque[int]]:
        """Every unsent row of these chats, per chat and lane, in id order: only the head may go."""
        queues: dict[tuple[str, int], deque[int]] = {}
        if not chats:
            return queues
        q = (select(T.c.chat_id, T.c.lane, T.c.id)
             .where(T.c.transport == name, T.c.account == account, T.c.chat_id.in_(chats), T.c.status.in_(UNSENT))
             .order_by(T.c.id))
        async with self.sessions() as session:
            conn = await session.connection()
            for chat_id, lane, row_id in (await conn.execute(q)).all():
                queues.setdefault((chat_id, lane), deque()).append(row_id)
        return queues

    async def _drop_stale(self, name: str, account: str, rows: list[Any], now: datetime) -> list[Any]:
        """A closed warning's calls and replies older than the configured age are dropped, each with a record."""
        warning_ids = {int(r.correlation_id[8:]) for r in rows if r.reason in STOPS_AT_CLOSE
                       and (r.correlation_id or "").startswith("warning:") and r.correlation_id[8:].isdigit()}
        closed: dict[int, str] = {}
        if warning_ids:
            wt = Warning.__table__
            async with self.sessions() as session:
                conn = await session.connection()
                for wid, closed_by in (await conn.execute(
                    select(wt.c.id, wt.c.closed_by).where(wt.c.id.in_(warning_ids),
                                                                       wt.c.status.in_(("closed", "cancelled"))))).all():
                    closed[wid] = "叫应已到期，不再发送" if closed_by == "到期" else "叫应已解除，不再发送"
        too_old = now - timedelta(minutes=self.cfg.reply_max_age_min)
        drops: dict[int, str] = {}
        stale_chats: dict[str, int] = {}
        for r in rows:
            wid = r.correlation_id[8:] if r.reason in STOPS_AT_CLOSE and r.correlation_id else ""
            if wid.isdigit() and int(wid) in closed:
                drops[r.id] = closed[int(wid)]
            elif r.reason == "reply" and r.created_at < too_old:
                drops[r.id] = f"超过{self.cfg.reply_max_age_min:g}分钟未能发出，已作废"
                stale_chats[r.chat_id] = stale_chats.get(r.chat_id, 0) + 1
        if not drops:
            return rows
        async with transaction(self.sessions) as session:
            conn = await session.connection()
            dropped = set()
            for row_id, why in drops.items():
                result = await conn.execute(update(T).where(T.c.id == row_id, self._due(now))
                                            .values(status="dropped", last_error=why))
                if result.rowcount == 1:
                    dropped.add(row_id)
            for chat_id, n in stale_chats.items():  # the notice, so that nothing is dropped silently
                await conn.execute(insert(T).values(
                    transport=name, account=account, chat_id=chat_id, mentions=[], reason="stale_notice",
                    lane=REPLY_LANE, status="pending", attempts=0, lease=0, next_attempt_at=now, created_at=now,
                    text=f"连接中断期间有{n}条回复超过{self.cfg.reply_max_age_min:g}分钟未能发出，已作废；如仍需要，请重新发送指令。"))
        self.log.warning("outbox.dropped", account=account, rows=len(dropped), reasons=sorted(set(drops.values())))
        return [r for r in rows if r.id not in dropped]

    async def _claim(self, ids: Iterable[int]) -> dict[int, tuple[int, datetime]]:
        """Take the rows still due under a fresh lease counted from now (the claim), each with a new fencing
        token; on PostgreSQL rows another sender holds are skipped, not waited for."""
        ids = list(ids)
        async with transaction(self.sessions) as session:
            conn = await session.connection()
            at = self.clock.now()
            mine = select(T.c.id).where(T.c.id.in_(ids), self._due(at))
            if conn.dialect.name == "postgresql":
                mine = mine.with_for_update(skip_locked=True)
            result = await conn.execute(update(T).where(T.c.id.in_(mine), self._due(at))
                                        .values(status="sending", lease=T.c.lease + 1, lease_until=at + LEASE)
                                        .returning(T.c.id, T.c.lease))
            return {row_id: (lease, at + LEASE) for row_id, lease in result.all()}

    async def _release(self, row_id: int, lease: int) -> None:
        async with transaction(self.sessions) as session:
            conn = await session.connection()
            await conn.execute(update(T).where(T.c.id == row_id, T.c.lease == lease, T.c.status == "sending")
                               .values(status="pending", lease_until=None))

    async def _send(self, transport: Any, name: str, account: str, row: Any, lease: int, lease_until: datetime) -> str:
        if self.clock.now() >= lease_until:
            self.log.warning("outbox.lease_expired_before_send", id=row.id)
            return "lost"
        msg = OutboundMessage(transport=name, account=account, chat_id=row.chat_id, text=row.text,
                              mentions=tuple(Mention(m["id"], m["name"]) for m in row.mentions or ()),
                              attachment=row.attachment)
        values: dict[str, Any]
        try:
            sent_id = await transport.send(msg)
            values = {"status": "sent", "sent_at": self.clock.now(), "transport_message_id": sent_id, "last_error": None}
            outcome = "sent"
        except asyncio.CancelledError:
            raise
        except Rejected as exc:  # the platform refuses it for good: show it, let an admin retry
            values = {"status": "failed", "attempts": row.attempts + 1, "last_error": f"平台拒收：{exc}"[:500]}
            outcome = "failed"
        except OSError as exc:  # connection trouble: no attempt spent, the row waits at the head of its chat
            values = {"status": "pending", "next_attempt_at": self.clock.now() + timedelta(seconds=2),
                      "last_error": repr(exc)[:500]}
            outcome = "offline"
        except Exception as exc:  # unexplained while connected: a few attempts with backoff
            attempts = row.attempts + 1
            failed = attempts >= self.cfg.max_attempts
            values = {"status": "failed" if failed else "pending", "attempts": attempts,
                      "next_attempt_at": self.clock.now() + timedelta(seconds=min(300, 2 ** attempts)),
                      "last_error": repr(exc)[:500]}
            outcome = "failed" if failed else "retry"
        if outcome != "sent":
            self.log.warning("outbox.send_failed", id=row.id, outcome=outcome, error=values.get("last_error"))
        async with transaction(self.sessions) as session:
            conn = await session.connection()
            result = await conn.execute(update(T).where(T.c.id == row.id, T.c.lease == lease, T.c.status == "sending")
                                        .values(lease_until=None, **values))
            if result.rowcount != 1:
                self.log.warning("outbox.lease_lost", id=row.id)  # another sender reclaimed it meanwhile
        if outcome == "failed" and self.notify is not None and row.reason != "failed_notice":
            with contextlib.suppress(Exception):
                await self.notify("failed", {"id": row.id, "transport": name, "account": account,
                                             "chat_id": row.chat_id, "text": row.text, "error": values["last_error"]})
        return outcome

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
