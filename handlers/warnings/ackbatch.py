"""Acks by group commit: a province answering in one minute is 20,000 `收到` in a burst.

A plain `收到` from someone with an open obligation takes this lane instead of the whole pipeline. The acks
that arrive while one batch commits form the next batch (no timer: batches grow with the load). One
transaction per batch stores the raw messages, marks the obligations acked, writes the call records,
cancels those people's pending escalation steps and queues the replies; only after the commit is an ack
counted or answered. Anything unusual (a measure, a number, a quote, an attachment, nothing open in the
database) goes down the normal pipeline, which stays the reference for what an ack means.

`OpenIndex` remembers who has an open obligation, so that a `收到` from anyone else costs no query. It is
rebuilt from the database on start and caught up by obligation id; it only decides who may take the lane,
the batch re-reads the truth inside its transaction."""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as sqla_event
from sqlalchemy import func, insert, select

from bot.dispatch.intake import storable
from bot.events import InboundMessage, Mention
from bot.outbox import Outbox
from bot.text import clean
from handlers.reports.parse.classify import ACK_SCAN, is_answer
from handlers.warnings.ack import _EXPLICIT, _QUOTE, MEASURES, OPEN, ack_reply
from handlers.warnings.ackwrite import write
from models.core import OutboxEntry
from models.db import committing
from models.warnings import Obligation, Warning, warning_title

HANDLER = "handlers.warnings.ack.acknowledge"
REFRESH_S = 1.0


def plain_ack(event: InboundMessage) -> str | None:
    """The answer text if the message is a bare acknowledgement this lane may take, else None."""
    if event.quote_id or event.attachments or len(event.text) > ACK_SCAN:
        return None  # a long `#接龙` list is still an answer, but the normal chain takes it
    text = re.sub(r"^@\S+\s*", "", clean(event.text).strip()).strip()
    if not is_answer(text, not event.is_group):
        return None
    if MEASURES.search(text) or _EXPLICIT.search(text) or _QUOTE.search(text):
        return None
    return text


class OpenIndex:
    """person id → open obligation ids, from the database; caught up by id when this process activated a
    warning, and at most once a second for what another process did."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.by_person: dict[str, set[int]] = {}
        self.watermark = 0
        self.refreshed = -REFRESH_S  # monotonic seconds: a cache's pace, not the bot's clock
        self.dirty = True
        self._lock = asyncio.Lock()

    def watch(self, session: Any) -> None:
        """Catch up after this transaction commits (it writes obligations)."""
        sqla_event.listen(session.sync_session, "after_commit", self._mark, once=True)

    def _mark(self, _session: Any) -> None:
        self.dirty = True

    async def rebuild(self) -> None:
        self.by_person.clear()
        self.watermark = 0
        await self.refresh(force=True)

    async def refresh(self, force: bool = False) -> None:
        if self._lock.locked() and not force:  # a refresh is on its way: its answer is the one to use
            async with self._lock:
                return
        now = time.monotonic()
        if not (force or self.dirty or now - self.refreshed >= REFRESH_S):
            return
        async with self._lock:
            self.refreshed, self.dirty = now, False
            async with self.app.sessions() as session:
                conn = await session.connection()
                rows = (await conn.execute(
                    select(Obligation.id, Obligation.person_id)
                    .join(Warning, Warning.id == Obligation.warning_id)
                    .where(Obligation.id > self.watermark, Obligation.state.in_(OPEN), Warning.status == "active")
                )).all()
                top = (await conn.execute(select(func.max(Obligation.id)))).scalar()
            for oid, person in rows:
                self.by_person.setdefault(person, set()).add(oid)
            self.watermark = max(self.watermark, top or 0)

    def has_open(self, person_id: str) -> bool:
        return bool(self.by_person.get(person_id))

    def closed(self, person_id: str, obligation_id: int | None = None) -> None:
        ids = self.by_person.get(person_id)
        if ids is None:
            return
        if obligation_id is None:
            ids.clear()
        else:
            ids.discard(obligation_id)
        if not ids:
            self.by_person.pop(person_id, None)


@dataclass
class Item:
    event: InboundMessage
    person: Any
    text: str
    done: asyncio.Future
    raw_id: int | None = None  # stored already by the transport's intake: the batch sets its outcome


class AckBatcher:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.index = OpenIndex(app)
        self.queue: list[Item] = []
        self._lock = asyncio.Lock()
        self.batches = 0

    async def submit(self, event: InboundMessage, person: Any, text: str, raw_id: int | None = None) -> str | None:
        """'ack' or 'duplicate' once committed; None: not for this lane (nothing of it was stored)."""
        item = Item(event, person, text, asyncio.get_running_loop().create_future(), raw_id)
        self.queue.append(item)
        async with self._lock:  # one batch at a time; whoever gets the lock commits everything queued
            if not item.done.done():
                batch, self.queue = self.queue, []
                try:
                    await self._commit(batch)
                except Exception as exc:  # e.g. a message stored before (the raw unique key): the normal chain decides
                    self.app.log.warning("ack_batch_failed", size=len(batch), error=repr(exc))
                    for it in batch:
                        if not it.done.done():
                            it.done.set_result(None)
        return await item.done

    async def _commit(self, batch: list[Item]) -> None:
        app = self.app
        results: dict[int, str | None] = {}
        chosen: dict[int, int] = {}
        replies: list[dict[str, Any]] = []
        # plain rows: no ORM session to keep
        async with app.engine.connect() as conn, committing(app.sessions, conn):
            people = list({it.person.id for it in batch})
            # what is open for them, locked in id order as the escalation fence takes them (FOR UPDATE is
            # nothing on SQLite, whose single writer is the fence); by the (person, state) index alone
            mine = (await conn.execute(
                select(Obligation.id, Obligation.person_id, Obligation.warning_id, Obligation.state, Obligation.sent_at)
                .where(Obligation.person_id.in_(people), Obligation.state.in_(OPEN))
                .order_by(Obligation.id).with_for_update())).all()
            # their warnings read after the lock: a 解除 committed meanwhile is seen
            active = {w.id: w for w in (await conn.execute(
                select(Warning.id, Warning.kind, Warning.level, Warning.type, Warning.serial)
                .where(Warning.id.in_(sorted({o.warning_id for o in mine})), Warning.status == "active"))).all()
                } if mine else {}
            open_of: dict[str, list[Any]] = {}
            for o in sorted(mine, key=lambda o: (o.sent_at, o.id), reverse=True):
                if o.warning_id in active:
                    open_of.setdefault(o.person_id, []).append((o, active[o.warning_id]))
            raws: list[dict[str, Any]] = []
            stored: list[int] = []
            acked: list[dict[str, Any]] = []
            taken: set[str] = set()
            outbox = Outbox(None, app.data)  # only its rows: they are inserted below
            for n, it in enumerate(batch):
                e = it.event
                pending = open_of.get(it.person.id, [])
                if not pending or it.person.id in taken:
                    results[n] = None  # nothing open (or a second ack in the batch): the normal pipeline
                    continue
                o, w = pending[0]
                if o.state == "unwoken":
                    results[n] = None  # an answer after the 未叫醒名单 is recorded as late: the normal handler
                    continue
                taken.add(it.person.id)
                results[n] = "ack"
                chosen[n] = o.id
                now, text = e.received_at, it.text[:500]
                channel = "group" if e.is_group else "private"
                if it.raw_id is None:
                    raws.append(_raw(app, e, now))
                else:
                    stored.append(it.raw_id)
                acked.append({"oid": o.id, "warning_id": o.warning_id, "person_id": it.person.id, "at": now,
                              "channel": channel, "text": text})
                title = warning_title(w.kind, o.warning_id, w.level, w.type, w.serial)
                others = "、".join(f"#{r.warning_id}" for r, _ in pending[1:])
                if reply := ack_reply(title, others, not e.is_group):
                    replies += outbox.chat_rows(e.transport, e.chat_id, reply, account=e.account,
                                                mentions=[Mention(e.sender_id, it.person.name)] if e.is_group else [])
            await write(conn, HANDLER, stored, raws, acked)
            if replies:
                await conn.execute(insert(OutboxEntry), replies)
        self.batches += 1
        for n, it in enumerate(batch):
            if n in chosen:
                self.index.closed(it.person.id, chosen[n])
            elif not open_of.get(it.person.id):
                self.index.closed(it.person.id)  # the index was behind: nothing is open any more
            it.done.set_result(results.get(n))
        if replies and app.outbox_sender is not None:
            app.outbox_sender.wake()


def _raw(app: Any, e: InboundMessage, now: datetime) -> dict[str, Any]:
    return {"transport": e.transport, "account": e.account, "chat_id": e.chat_id, "sender_id": e.sender_id,
            "message_id": e.message_id, "is_group": e.is_group, "sender_known": True,
            "chat_known": not e.is_group or app.directory.group(e.transport, e.chat_id) is not None,
            "text": e.text, "received_at": now}


async def ack_lane(event: InboundMessage, data: dict[str, Any]) -> str | None:
    """The fast lane's entry (see `bot.dispatch.middleware.fast_lanes`): 'ack' or 'duplicate' when it took
    the message, None to pass it on untouched."""
    batcher: AckBatcher = data["ack_batcher"]
    person = data["directory"].person(event.transport, event.sender_id)
    if person is None:
        return None
    text = plain_ack(event)
    if text is None or (data.get("raw_id") is None and storable(event.text)[1]):
        return None  # text that needs escaping is stored by the normal chain, which records what changed
    await batcher.index.refresh()
    if not batcher.index.has_open(person.id):
        return None
    raw_id = data.get("raw_id")  # stored by the intake already: no claim, the batch sets its outcome
    dedup, key = data["dedup"], f"{event.transport}:{event.message_id}"
    if raw_id is None and not await dedup.first_time(key):
        return "duplicate"
    try:
        # in order per person and chat; not per chat, or a group's eleven answers could never share a commit
        async with data["chat_locks"].get(f"{event.transport}:{event.chat_id}:{event.sender_id}"):
            outcome = await batcher.submit(event, person, text, raw_id)
    except BaseException:
        if raw_id is None:
            await dedup.release(key)
        raise
    if outcome is None and raw_id is None:
        await dedup.release(key)  # the normal pipeline takes it, de-duplication included
    else:
        data["handler"] = HANDLER
    return outcome


async def rebuild_index(app: Any) -> None:
    await app.data["ack_batcher"].index.rebuild()
