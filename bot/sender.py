"""The outbox sender: delivers due rows through the transports under a per-account rate limit.

- an account whose transport is down is skipped: no attempt, no token; its rows wait and go out in order;
- each account's tokens go to the highest lane first, then by due time; one chat's rows keep their order;
- a row is claimed under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL) and only the lease holder may
  finish it, so a row left `sending` by a dead process is sent again by exactly one other;
- only a platform's permanent rejection fails a row; stale rows are dropped with a record.

A pass costs three statements whatever the backlog: new rows since the last pass, one claim for every
account, one write of every outcome. Each account keeps a page of its due rows between passes; the page is
read again when it runs out, when a retry falls due, after REFRESH, and when a row for that account arrives
that could go before the page's rows end (a full page keeps rows that sort after its last: a burst of replies
behind a backlog does not make it read again; a warning does). An account out of tokens is not read or
picked until its next token.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import String, and_, bindparam, func, insert, or_, select, type_coerce, update

from bot.clock import Clock
from bot.config import OutboxConfig
from bot.events import Mention, OutboundMessage
from bot.outbox import REPLY_LANE, STOPS_AT_CLOSE, T, closed_reason
from bot.transports.base import Rejected
from models.bulk import Raw
from models.db import commit_count, committing, write_alone, write_in_one_hop
from models.types import LocalTime
from models.warnings import Warning

LEASE = timedelta(seconds=120)
HELD = timedelta(seconds=3)  # a chat's head that another sender is sending now: look again this soon, not at its lease's end
REFRESH = timedelta(minutes=5)  # every page is read again at least this often: a safety net, not a need
UNSENT = ("pending", "sending")
PAGE = 200
_OLD = bindparam("old", type_=T.c.created_at.type)
# a page holds up to PAGE rows of which few may go before it is read again: their mentions stay JSON text until
# sent, and their age is a flag, not a datetime to decode
_COLS = (T.c.id, T.c.lease, T.c.chat_id, T.c.lane, T.c.next_attempt_at, T.c.text,
         type_coerce(T.c.mentions, String).label("mentions"), T.c.attachment, T.c.reason, T.c.correlation_id,
         T.c.attempts, (T.c.created_at < _OLD).label("old"))


def _due(at: Any) -> Any:
    return or_(and_(T.c.status == "pending", T.c.next_attempt_at <= at),
               and_(T.c.status == "sending", T.c.lease_until < at))


# Built once, with bind parameters: a pass runs a few of these, and building them anew costs more than running them.
_AT, _MINE = bindparam("at", type_=T.c.next_attempt_at.type), (T.c.transport == bindparam("t"), T.c.account == bindparam("a"))
_IDS = bindparam("ids", expanding=True)
_NEW = select(T.c.id, T.c.transport, T.c.account, T.c.lane, T.c.next_attempt_at).where(T.c.id > bindparam("last")).order_by(T.c.id)
_PENDING = (select(*_COLS).where(T.c.status == "pending", *_MINE, T.c.next_attempt_at <= _AT)
            .order_by(T.c.lane, T.c.next_attempt_at, T.c.id).limit(PAGE))
_ORPHANED = select(*_COLS).where(T.c.status == "sending", *_MINE, T.c.lease_until < _AT).limit(PAGE)
_STILL_DUE = select(T.c.id, T.c.lease).where(T.c.id.in_(_IDS), _due(_AT))
_SENT = (update(T).where(T.c.id == bindparam("_id"), T.c.lease == bindparam("_lease"),
                         or_(T.c.status == "pending", T.c.status == "sending"))  # no IN: executemany
         .values(status="sent", sent_at=bindparam("_at"), transport_message_id=bindparam("_mid"), last_error=None,
                 lease_until=None))
# the same writes as one set-based statement each (PostgreSQL; `= ANY($1)` besides the join: an index lookup
# of the rows named, not a scan of the table, see `handlers.reports.lane._OUTCOME`), sent on their own (`models.db.write_alone`)
_SENT_RAW = Raw(_SENT, pg_many=(
    "UPDATE outbox AS o SET status = 'sent', sent_at = v.at, transport_message_id = v.mid, last_error = NULL, "
    "lease_until = NULL FROM unnest($1::int[], $2::int[], $3::timestamp[], $4::text[]) AS v(id, lease, at, mid) "
    "WHERE o.id = v.id AND o.id = ANY($1) AND o.lease = v.lease AND o.status IN ('pending', 'sending')", ("_id", "_lease", "_at", "_mid")))
_DUE_PG = "((status = 'pending' AND next_attempt_at <= $2) OR (status = 'sending' AND lease_until < $2))"
_CLAIM_PG = (f"UPDATE outbox SET status = 'sending', lease = lease + 1, lease_until = $3 WHERE id IN "
             f"(SELECT id FROM outbox WHERE id = ANY($1::int[]) AND {_DUE_PG} FOR UPDATE SKIP LOCKED) AND {_DUE_PG} "
             "RETURNING id, lease")
_RELEASE = (update(T).where(T.c.id == bindparam("_id"), T.c.lease == bindparam("_lease"), T.c.status == "sending")
            .values(status="pending", lease_until=None))

Account = tuple[str, str]  # (transport, account)
Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass
class Page:
    """An account's due rows as last read, in lane, due-time, id order, and the unsent ids of their chats."""

    rows: deque[Any]
    heads: dict[tuple[str, int], deque[int]]
    full: bool  # more due rows may follow the page
    last: tuple[int, datetime, int] | None = None  # a full page: (lane, due, id) of its last row, as read
    upto: int = 0  # the highest id its chats' queues know
    suspect: bool = False  # SQLite: another writer came after the read; a row may have been dropped since
    wake_at: datetime | None = None  # a chat here waits for a row outside the page that falls due then
    gone: set[int] = field(default_factory=set)

    def is_head(self, row: Any) -> bool:
        queue = self.heads.get((row.chat_id, row.lane))
        return bool(queue) and queue[0] == row.id  # type: ignore[index]

    def take(self, row: Any) -> None:
        self.heads[(row.chat_id, row.lane)].popleft()
        self.gone.add(row.id)

    def trim(self) -> None:
        while self.rows and self.rows[0].id in self.gone:
            self.gone.discard(self.rows.popleft().id)

    def keeps(self, row_id: int, lane: int, due: datetime | None) -> bool:
        """A new row of this account cannot go before the rest of this page: the page is full, the row sorts
        after its last row (so a page read now would end the same way), is later than every row its chat's
        queue knows (so no head changes), and no chat here waits for a row outside the page."""
        return (self.full and self.last is not None and self.wake_at is None and due is not None
                and row_id > self.upto and (lane, due, row_id) > self.last)


@dataclass
class Pick:
    account: Account
    transport: Any
    row: Any
    lease: int = 0
    lease_until: datetime | None = None
    trusted: bool = False  # SQLite: still as read, nobody else wrote since


class OutboxSender:
    """Delivers due rows. `deliver_due()` is one pass; `run()` loops until cancelled.

    `serves(transport, account)` says which accounts this process sends for (all by default); a process
    that holds leases on some accounts sets it."""

    def __init__(self, sessions: Any, transports: Mapping[tuple[str, str], Any], limiter: Any, clock: Clock,
                 cfg: OutboxConfig) -> None:
        self.sessions = sessions
        self.transports = transports
        self.limiter = limiter
        self.clock = clock
        self.cfg = cfg
        self.log = structlog.get_logger("outbox")
        self._wake = asyncio.Event()
        self.next_due: datetime | None = None
        self.serves: Callable[[str, str], bool] = lambda transport, account: True
        self.notify: Notify | None = None  # told about failed rows, for the admins
        self._pages: dict[Account, Page | None] = {}  # None: read it again
        self._last_id: int | None = None  # the newest row seen
        self._notified = False
        self._c: Any = None  # the sender's own connection
        # the commit count of this process at which our pages were last known current; on SQLite (one process)
        # no commit since means nothing changed, on PostgreSQL also no `outbox_news` from another process
        self._seen_gen = -1
        self._news = True
        self._recheck = False
        self._listening = False
        self._retry_at: datetime | None = None  # when a row waiting out a backoff falls due
        self._no_token: dict[Account, datetime] = {}  # an account out of tokens, until its next one
        self._listed_at: datetime | None = None

    def wake(self) -> None:
        self._wake.set()

    def reread(self) -> None:
        """Forget every page (rows changed behind our back: a lease taken over, a failed row retried)."""
        self._listed_at = None
        self._wake.set()

    def transport_for(self, transport: str, account: str) -> Any:
        return self.transports.get((transport, account)) or self.transports.get((transport, "default"))

    async def deliver_due(self, batch: int = 500) -> int:
        """One pass: every connected account's heads of chat, as far as its tokens go, claimed and sent; and
        once more if a failure produced notices for the admins, so they hear of it at once. The pass uses one
        connection, kept between passes: its reads ride on the next write's transaction, and a check-out costs
        a round trip."""
        self._notified = False
        if self._c is None:
            self._c = await self.sessions.kw["bind"].connect()
            await self._listen()
        try:
            sent = await self._pass(batch)
            if self._notified:
                sent += await self._pass(batch)
            if self._c.in_transaction():
                await self._c.rollback()  # a pass that only read
        except BaseException:
            await self.close()  # a broken or interrupted connection is not used again
            raise
        return sent

    async def close(self) -> None:
        conn, self._c = self._c, None
        if conn is not None:
            with contextlib.suppress(Exception):
                if self._listening:
                    raw = await conn.get_raw_connection()
                    await raw.driver_connection.remove_listener("outbox_news", self._on_news)
            with contextlib.suppress(Exception):
                await conn.close()
        self._listening, self._news = False, True

    @property
    def _sqlite(self) -> bool:
        return bool(self.sessions.kw["bind"].dialect.name == "sqlite")

    async def _listen(self) -> None:
        """On PostgreSQL, hear of rows other processes insert (a trigger notifies `outbox_news`)."""
        if self._sqlite:
            return
        raw = await self._c.get_raw_connection()
        await raw.driver_connection.add_listener("outbox_news", self._on_news)
        self._listening, self._news = True, True

    def _on_news(self, *_args: Any) -> None:
        self._news = True
        self._wake.set()

    @contextlib.asynccontextmanager
    async def _write(self, own: bool = True) -> AsyncIterator[Any]:
        """A write on the pass's connection, committed at the end. `own`: rows we wrote are not news to us,
        so on SQLite, if nobody else wrote before it, our pages stay true."""
        before = commit_count(self.sessions)
        async with committing(self.sessions, self._c) as conn:
            yield conn
        if own:
            self._own_write(before)

    def _own_write(self, before: int) -> None:
        """A commit of ours just made (`before`: the count before it): if nobody else wrote since our last look
        and meanwhile, our pages stay true."""
        after = commit_count(self.sessions)
        if before == self._seen_gen and after == before + 1:
            self._seen_gen = after

    async def _pass(self, batch: int) -> int:
        now = self.clock.now()
        await self._notice_changes(now)
        blocked: dict[str, float] = {}
        picks: list[Pick] = []
        more = False  # rows that may go now: a batch ran out, or a page was used up
        for key in list(self._pages):
            name, account = key
            transport = self.transport_for(name, account)
            if not self.serves(name, account) or transport is None or not getattr(transport, "online", True):
                continue  # waits without an attempt or a token; the reconnect wakes us
            until = self._no_token.pop(key, None)
            if until is not None and now < until:  # nothing may go: no reason to read or pick yet
                self._no_token[key] = until
                blocked[f"{name}:{account}"] = (until - now).total_seconds()
                continue
            page = self._pages[key]
            if page is None or (page.full and not page.rows) or (page.wake_at is not None and page.wake_at <= now):
                page = self._pages[key] = await self._read(key, now)
            mine = await self._pick(key, transport, page, now, batch, blocked)
            more = more or len(mine) >= batch
            picks += mine
        sent = await self._deliver(picks) if picks else 0
        for key, page in list(self._pages.items()):
            if page is not None:
                page.trim()
                if not page.rows:
                    if page.full:
                        more = more or key not in self._no_token  # else read at its next token (`blocked`)
                    else:
                        del self._pages[key]  # nothing due: listed again when rows arrive
        wakes = [w for w in [self._retry_at, *(p.wake_at for p in self._pages.values() if p is not None)] if w]
        if more:
            self.next_due = now
        elif blocked:
            self.next_due = min([now + timedelta(seconds=min(blocked.values())), *wakes])
        else:
            self.next_due = min(wakes, default=None)  # rows waiting out a backoff or a dead sender's lease
        return sent

    async def _notice_changes(self, now: datetime) -> None:
        """Pages of accounts with new rows are read again; all of them after REFRESH or when a retry is due."""
        retry_due = self._retry_at is not None and self._retry_at <= now
        if self._last_id is None or self._listed_at is None or now - self._listed_at >= REFRESH or retry_due:
            conn = self._c
            self._seen_gen, self._news = commit_count(self.sessions), False  # news from now on counts
            self._last_id = (await conn.execute(select(func.max(T.c.id)))).scalar() or 0
            accounts = (await conn.execute(select(T.c.transport, T.c.account).where(_due(now)).distinct())).all()
            self._pages = {(name, account): None for name, account in accounts}
            self._listed_at = now
            self._retry_at = await self._next_retry(now)
            return
        gen = commit_count(self.sessions)
        if gen == self._seen_gen and not self._recheck and (self._sqlite or (self._listening and not self._news)):
            return  # nobody but us wrote since the last look: no new rows
        # a commit is counted as it starts: its rows may land just after this look, so look once more next pass
        self._recheck = gen != self._seen_gen
        self._seen_gen, self._news = gen, False
        for page in self._pages.values():
            if page is not None:
                page.suspect = True
        fresh = (await self._c.execute(_NEW, {"last": self._last_id})).all()  # by primary key: since the last look
        for row_id, name, account, lane, due in fresh:
            page = self._pages.get((name, account))
            if page is None or not page.keeps(row_id, lane, due):
                self._pages[(name, account)] = None
            self._last_id = row_id

    async def _read(self, key: Account, now: datetime) -> Page:
        """The first PAGE due rows: pending ones in index order, and rows a dead sender left, merged."""
        name, account = key
        args = {"t": name, "a": account, "at": now, "old": now - timedelta(minutes=self.cfg.reply_max_age_min)}
        rows = list((await self._c.execute(_PENDING, args)).all())
        orphaned = (await self._c.execute(_ORPHANED, args)).all()
        full = len(rows) == PAGE or len(orphaned) == PAGE or len(rows) + len(orphaned) > PAGE  # rows left out
        if orphaned:
            rows = sorted(rows + list(orphaned), key=lambda r: (r.lane, r.next_attempt_at, r.id))[:PAGE]
        last = (rows[-1].lane, rows[-1].next_attempt_at, rows[-1].id) if full else None
        upto = max((r.id for r in rows), default=0)
        queues = await self._chat_queues(name, account, {r.chat_id for r in rows}, upto)
        rows, wake_at = await self._add_heads(rows, queues, args)
        rows = await self._drop_stale(name, account, rows, now)
        return Page(deque(rows), queues, full, last, upto, wake_at=wake_at)

    async def _add_heads(self, rows: list[Any], queues: dict[tuple[str, int], deque[int]],
                         args: dict[str, Any]) -> tuple[list[Any], datetime | None]:
        """A chat whose first unsent row is not in the page (a retry that sorts later, or beyond the page)
        would wait for ever: that row joins the page if it is due, else the page is read again when it is."""
        have = {r.id for r in rows}
        missing = [q[0] for q in queues.values() if q and q[0] not in have]
        if not missing:
            return rows, None
        now = args["at"]
        found = (await self._c.execute(select(*_COLS, T.c.status, T.c.lease_until).where(T.c.id.in_(missing)),
                                       {"old": args["old"]})).all()
        due = [r for r in found if (r.status == "pending" and r.next_attempt_at <= now)
               or (r.status == "sending" and r.lease_until is not None and r.lease_until < now)]
        # a head under another sender's live lease is on its way (PostgreSQL, two processes) and tells us nothing
        # when it is done: waiting for the lease to run out held this chat back for two minutes
        later = [r.next_attempt_at if r.status == "pending" else min(r.lease_until, now + HELD)
                 for r in found if r not in due and (r.status == "pending" or r.lease_until is not None)]
        return rows + due, min((w for w in later if w is not None), default=None)

    async def _pick(self, key: Account, transport: Any, page: Page, now: datetime, batch: int,
                    blocked: dict[str, float]) -> list[Pick]:
        bucket = f"{key[0]}:{key[1]}"
        picks: list[Pick] = []
        for row in page.rows:  # the heads of their chats, as far as the tokens go
            if len(picks) >= batch:
                break
            if row.id in page.gone or not page.is_head(row):
                continue  # sent, or an earlier message of this chat and lane is still on its way
            wait = await self.limiter.take(bucket, now)
            if wait > 0:
                blocked[bucket] = wait
                self._no_token[key] = now + timedelta(seconds=wait)
                break
            page.take(row)  # the next of this chat may follow in the same pass
            picks.append(Pick(key, transport, row, trusted=not page.suspect))
        return picks

    async def _deliver(self, picks: list[Pick]) -> int:
        """Claim every pick at once, then send in rounds of one message per account, each round's outcomes
        committed before the next round: a crash leaves at most one sent-but-unrecorded row per account."""
        claims = await self._claim(picks)
        queues: dict[Account, deque[Pick]] = {}
        for p in picks:
            queues.setdefault(p.account, deque()).append(p)
        stuck: set[tuple[Account, str, int]] = set()  # chats whose earlier message did not go: the rest waits
        offline: set[Account] = set()
        release: list[dict[str, Any]] = []
        sent = 0
        while True:
            batch: list[Pick] = []
            for account, queue in queues.items():
                while queue:
                    p = queue.popleft()
                    claim = claims.get(p.row.id)
                    if claim is not None and (account, p.row.chat_id, p.row.lane) not in stuck and account not in offline:
                        p.lease, p.lease_until = claim
                        batch.append(p)
                        break
                    stuck.add((account, p.row.chat_id, p.row.lane))
                    self._pages[account] = None  # taken or dropped meanwhile, or held back: read the page again
                    await self._refund(account)
                    if claim is not None:
                        release.append({"_id": p.row.id, "_lease": claim[0]})
            if not batch:
                break
            done: list[dict[str, Any]] = []
            others: list[tuple[Pick, dict[str, Any], str]] = []
            for p in batch:
                outcome, values = await self._send(p)
                if outcome == "sent":
                    done.append({"_id": p.row.id, "_lease": p.lease, "_at": values["sent_at"],
                                 "_mid": values["transport_message_id"]})
                    continue
                others.append((p, values, outcome))
                stuck.add((p.account, p.row.chat_id, p.row.lane))
                self._pages[p.account] = None
                if outcome == "offline":
                    offline.add(p.account)
                    await self._refund(p.account)
                if "next_attempt_at" in values:
                    when = values["next_attempt_at"]
                    self._retry_at = when if self._retry_at is None else min(self._retry_at, when)
            await self._record(done, others)
            sent += len(done)
        if release:
            async with self._write() as conn:
                await conn.execute(_RELEASE, release)
        return sent

    async def _send(self, p: Pick) -> tuple[str, dict[str, Any]]:
        row = p.row
        if p.lease_until is not None and self.clock.now() >= p.lease_until:
            self.log.warning("outbox.lease_expired_before_send", id=row.id)
            return "lost", {}
        name, account = p.account
        mentions = json.loads(row.mentions) if isinstance(row.mentions, str) else row.mentions  # JSON text as read
        msg = OutboundMessage(transport=name, account=account, chat_id=row.chat_id, text=row.text,
                              mentions=tuple(Mention(m["id"], m["name"]) for m in mentions or ()),
                              attachment=row.attachment)
        try:
            sent_id = await p.transport.send(msg)
            return "sent", {"sent_at": self.clock.now(), "transport_message_id": sent_id}
        except asyncio.CancelledError:
            raise
        except Rejected as exc:  # the platform refuses it for good: show it, let an admin retry
            return "failed", {"status": "failed", "attempts": row.attempts + 1, "last_error": f"平台拒收：{exc}"[:500]}
        except OSError as exc:  # connection trouble: no attempt spent, the row waits at the head of its chat
            return "offline", {"status": "pending", "next_attempt_at": self.clock.now() + timedelta(seconds=2),
                               "last_error": repr(exc)[:500]}
        except Exception as exc:  # unexplained while connected: a few attempts with backoff
            attempts = row.attempts + 1
            failed = attempts >= self.cfg.max_attempts
            return ("failed" if failed else "retry"), {
                "status": "failed" if failed else "pending", "attempts": attempts,
                "next_attempt_at": self.clock.now() + timedelta(seconds=min(300, 2 ** attempts)),
                "last_error": repr(exc)[:500]}

    async def _record(self, sent: list[dict[str, Any]], others: list[tuple[Pick, dict[str, Any], str]]) -> None:
        """A round's outcomes in one transaction; only the lease holder's write lands."""
        if sent and not others:  # the usual round: one hop to SQLite's thread, one round trip to PostgreSQL
            before = commit_count(self.sessions)
            if self._sqlite:
                changed = await write_in_one_hop(self.sessions, self._c, _SENT_RAW, sent)
            else:
                changed = await write_alone(self._c, _SENT_RAW.pg_many[0], *_SENT_RAW.arrays(self._c.dialect, sent))
            self._own_write(before)
            if changed != len(sent):
                self.log.warning("outbox.lease_lost", rows=len(sent) - changed)
            return
        async with self._write() as conn:
            if sent:
                result = await conn.execute(_SENT, sent)
                if result.rowcount not in (-1, len(sent)):
                    self.log.warning("outbox.lease_lost", rows=len(sent) - result.rowcount)
            for p, values, outcome in others:
                self.log.warning("outbox.send_failed", id=p.row.id, outcome=outcome, error=values.get("last_error"))
                if values:
                    await conn.execute(update(T).where(T.c.id == p.row.id, T.c.lease == p.lease,
                                                       T.c.status.in_(UNSENT)).values(lease_until=None, **values))
        for p, values, outcome in others:
            if outcome == "failed" and self.notify is not None and p.row.reason != "failed_notice":
                self._notified = True
                with contextlib.suppress(Exception):
                    await self.notify("failed", {"id": p.row.id, "transport": p.account[0], "account": p.account[1],
                                                 "chat_id": p.row.chat_id, "text": p.row.text,
                                                 "error": values["last_error"]})

    async def _refund(self, key: Account) -> None:
        self._no_token.pop(key, None)
        with contextlib.suppress(Exception):
            await self.limiter.refund(f"{key[0]}:{key[1]}")

    async def _next_retry(self, now: datetime) -> datetime | None:
        """The earliest row waiting out a backoff (rows behind it in its chat wait for it)."""
        return (await self._c.execute(select(func.min(T.c.next_attempt_at))
                                      .where(T.c.status == "pending", T.c.next_attempt_at > now))).scalar_one_or_none()

    async def _chat_queues(self, name: str, account: str, chats: set[str],
                           upto: int) -> dict[tuple[str, int], deque[int]]:
        """The unsent rows of these chats up to the page's last id, per chat and lane, in id order: only the head
        may go. A later row cannot be ahead of a page row, and a backlog of thousands in one group is not read
        again at every page."""
        queues: dict[tuple[str, int], deque[int]] = {}
        if not chats:
            return queues
        q = (select(T.c.chat_id, T.c.lane, T.c.id)
             .where(T.c.transport == name, T.c.account == account, T.c.chat_id.in_(chats), T.c.status.in_(UNSENT),
                    T.c.id <= upto)
             .order_by(T.c.id))
        for chat_id, lane, row_id in (await self._c.execute(q)).all():
            queues.setdefault((chat_id, lane), deque()).append(row_id)
        return queues

    async def _drop_stale(self, name: str, account: str, rows: list[Any], now: datetime) -> list[Any]:
        """A closed warning's calls and replies older than the configured age are dropped, each with a record."""
        warning_ids = {int(r.correlation_id[8:]) for r in rows if r.reason in STOPS_AT_CLOSE
                       and (r.correlation_id or "").startswith("warning:") and r.correlation_id[8:].isdigit()}
        closed: dict[int, str] = {}
        if warning_ids:
            wt = Warning.__table__
            for wid, closed_by in (await self._c.execute(
                    select(wt.c.id, wt.c.closed_by).where(wt.c.id.in_(warning_ids),
                                                          wt.c.status.in_(("closed", "cancelled"))))).all():
                closed[wid] = closed_reason(closed_by)
        drops: dict[int, str] = {}
        stale_chats: dict[str, int] = {}
        for r in rows:
            wid = r.correlation_id[8:] if r.reason in STOPS_AT_CLOSE and r.correlation_id else ""
            if wid.isdigit() and int(wid) in closed:
                drops[r.id] = closed[int(wid)]
            elif r.reason == "reply" and r.old:
                drops[r.id] = f"超过{self.cfg.reply_max_age_min:g}分钟未能发出，已作废"
                stale_chats[r.chat_id] = stale_chats.get(r.chat_id, 0) + 1
        if not drops:
            return rows
        dropped = set()
        async with self._write(own=False) as conn:  # the notices are new rows, to be noticed
            for row_id, why in drops.items():
                result = await conn.execute(update(T).where(T.c.id == row_id, _due(now))
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

    async def _claim(self, picks: list[Pick]) -> dict[int, tuple[int, datetime | None]]:
        """Take the rows still due. On PostgreSQL: under a fresh lease counted from now, each with a new fencing
        token, skipping rows another sender holds. On SQLite (one process) nobody else sends: a row is still
        ours unless something dropped it, which only a write since our last look can have done."""
        ids = [p.row.id for p in picks]
        at = self.clock.now()
        if self._sqlite:
            claims: dict[int, tuple[int, datetime | None]] = {p.row.id: (p.row.lease, None) for p in picks if p.trusted}
            check = [i for i in ids if i not in claims]
            if check:
                due = await self._c.execute(_STILL_DUE, {"ids": check, "at": at})
                claims.update({row_id: (lease, None) for row_id, lease in due.all()})
            return claims
        before = commit_count(self.sessions)
        local = LocalTime().process_bind_param
        found = await write_alone(self._c, _CLAIM_PG, ids, local(at, None), local(at + LEASE, None), fetch=True)
        self._own_write(before)
        return {row_id: (lease, at + LEASE) for row_id, lease in found}

    async def run(self, idle_s: float = 1.0) -> None:
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("outbox_pass_failed")
                self.reread()
            timeout = idle_s
            if self.next_due is not None:
                timeout = max(0.05, min(idle_s, (self.next_due - self.clock.now()).total_seconds()))
            self._wake.clear()
            # asyncio.timeout, not wait_for: in 3.11 a cancel that meets wait_for's own timeout can be lost,
            # and app.stop() then waited for ever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
