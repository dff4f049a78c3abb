"""Cross-cutting layers around every handler: log context, raw storage and de-duplication,
error isolation, identification, the per-chat lock and the unit of work."""
from __future__ import annotations

import asyncio
import traceback
from collections import OrderedDict
from typing import Any

import structlog
from sqlmodel import update

from bot.audit import audit
from bot.dispatch.dispatcher import Next
from bot.dispatch.intake import store_one
from bot.events import InboundMessage
from bot.outbox import Outbox
from models.core import RawMessage
from models.db import transaction

APOLOGY = "抱歉，处理这条消息时出错了，已记录，请稍后重试或联系管理员。"


async def log_context(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    with structlog.contextvars.bound_contextvars(chat=event.chat_id, sender=event.sender_id, msg=event.message_id):
        outcome = await nxt(event, data)
        data["log"].info("message", outcome=outcome, handler=data.get("handler"))
        return outcome


async def fast_lanes(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    """A lane may take a common message whole, storing it raw with its effects in one group commit (a bare
    `收到` in a burst of 20,000); it returns None for anything else, which goes down the normal chain."""
    for lane in data.get("fast_lanes", ()):
        outcome = await lane(event, data)
        if outcome is not None:
            return outcome
    return await nxt(event, data)


async def store_raw(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    """Store the message before anything else; the same transport message id is handled once.

    The database's unique key is the guard; the shared de-dup cache only saves a round trip, and a
    message accepted earlier (by the transport's intake, or found pending after a crash) arrives with
    its row id already set."""
    if data.get("raw_id") is not None:
        return await nxt(event, data)
    dedup, key = data["dedup"], f"{event.transport}:{event.message_id}"
    if await dedup.seen(key):
        return "duplicate"
    event, raw_id = await store_one(data, event)
    if raw_id is None:
        return "duplicate"
    await dedup.mark(key)
    data["event"], data["raw_id"] = event, raw_id
    return await nxt(event, data)


async def errors(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    """A failing handler is logged with its traceback; the sender gets a short apology."""
    try:
        return await nxt(event, data)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        data["log"].exception("handler_failed", handler=data.get("handler"))
        async with transaction(data["sessions"]) as session:
            await _set_outcome(session, data, "error", traceback.format_exception_only(exc)[-1].strip())
            Outbox(session, data).reply(event, APOLOGY)
        data["outbox_sender"].wake()
        return "error"


async def identify(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    directory = data["directory"]
    data["person"] = directory.person(event.transport, event.sender_id)
    data["group"] = directory.group(event.transport, event.chat_id) if event.is_group else None
    return await nxt(event, data)


class ChatLocks:
    """Messages of one chat are handled in order; different chats run side by side."""

    def __init__(self, size: int = 4096) -> None:
        self._locks: OrderedDict[str, asyncio.Lock] = OrderedDict()
        self._size = size

    def get(self, key: str) -> asyncio.Lock:
        lock = self._locks.pop(key, None) or asyncio.Lock()
        self._locks[key] = lock
        while len(self._locks) > self._size:
            oldest, old = next(iter(self._locks.items()))
            if old.locked():
                break
            self._locks.pop(oldest)
        return lock


async def chat_lock(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    async with data["chat_locks"].get(f"{event.transport}:{event.chat_id}"):
        return await nxt(event, data)


async def oversize(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    """No filter or handler reads a text longer than a report may be (`report_limits.max_text_chars`): it is
    stored already; a known sender gets the one-line answer, a stranger none. So a 1 MB text costs the loop
    no more than a short one (the command, answer and report filters each scan the text)."""
    limits = data.get("report_limits")
    if limits is None or len(event.text) <= limits.max_text_chars:
        return await nxt(event, data)
    known = data.get("person") is not None
    outcome = "report_too_long" if known else "ignored"
    async with transaction(data["sessions"]) as session:
        await _set_outcome(session, data, outcome, None)
        if known:
            Outbox(session, data).reply(event, limits.too_long())
    if known:
        data["outbox_sender"].wake()
    return outcome


async def prepare(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    """Slow read-only work (reading a report) before the unit of work opens: SQLite's single writer is
    not held meanwhile. Capabilities register hooks in data["prepare"]."""
    for hook in data.get("prepare", ()):
        await hook(event, data)
    return await nxt(event, data)


async def unit_of_work(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    """One DB session around the handler; its outbox rows commit with its changes."""
    async with transaction(data["sessions"]) as session:
        data["session"] = session
        outbox = Outbox(session, data)
        data["outbox"] = outbox
        outcome = await nxt(event, data)
        await _set_outcome(session, data, outcome, None)
        if outcome.endswith("_denied"):
            _audit_refusal(session, event, data, outcome)
    if outbox.count:
        data["outbox_sender"].wake()
    return outcome


def _audit_refusal(session: Any, event: InboundMessage, data: dict[str, Any], outcome: str) -> None:
    """Every refused command is in the audit log too: who tried what, where."""
    person = data.get("person")
    actor = person.id if person is not None else f"{event.transport}:{event.sender_id}"
    audit(session, actor, f"denied:{data.get('handler') or outcome}", event.received_at, outcome=outcome,
          chat=event.chat_id, text=event.text[:200], raw=data.get("raw_id"))


async def _set_outcome(session: Any, data: dict[str, Any], outcome: str, error: str | None) -> None:
    if data.get("raw_id") is None:
        return
    await session.exec(
        update(RawMessage)
        .where(RawMessage.id == data["raw_id"])
        .values(outcome=outcome, handler=data.get("handler"), error=error)
    )


class MemoryDedup:
    """In-process de-duplication window (the database's unique key is the durable guard)."""

    def __init__(self, size: int = 100_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    async def seen(self, key: str) -> bool:
        return key in self._seen

    async def mark(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)

    async def first_time(self, key: str) -> bool:
        """Claim a key before storing (the ack lane's batches); `release` if it was not stored after all."""
        if await self.seen(key):
            return False
        await self.mark(key)
        return True

    async def release(self, key: str) -> None:
        self._seen.pop(key, None)


class RedisDedup(MemoryDedup):
    """Shared across bot processes. Marked only after the raw row is committed, so a crash in between
    never makes a redelivery look like a duplicate. Redis down: the in-process window and the
    database's unique key carry on, and the state is reported once (see bot.redis_state)."""

    def __init__(self, redis: Any, state: Any, ttl_s: int = 7 * 24 * 3600) -> None:
        super().__init__()
        self.redis = redis
        self.state = state
        self.ttl = ttl_s

    async def seen(self, key: str) -> bool:
        if await super().seen(key):
            return True
        if not self.state.usable():
            return False
        try:
            found = bool(await self.redis.exists(f"dedup:{key}"))
        except Exception as exc:
            self.state.failed(exc)
            return False
        self.state.ok()
        return found

    async def mark(self, key: str) -> None:
        await super().mark(key)
        if not self.state.usable():
            return
        try:
            await self.redis.set(f"dedup:{key}", 1, ex=self.ttl)
        except Exception as exc:
            self.state.failed(exc)
        else:
            self.state.ok()

    async def first_time(self, key: str) -> bool:
        if not await MemoryDedup.first_time(self, key):
            return False
        if not self.state.usable():
            return True
        try:
            claimed = bool(await self.redis.set(f"dedup:{key}", 1, nx=True, ex=self.ttl))
        except Exception as exc:
            self.state.failed(exc)
            return True
        self.state.ok()
        return claimed

    async def release(self, key: str) -> None:
        await super().release(key)
        if not self.state.usable():
            return
        try:
            await self.redis.delete(f"dedup:{key}")
        except Exception as exc:
            self.state.failed(exc)


DEFAULT_CHAIN = (log_context, fast_lanes, store_raw, errors, identify, chat_lock, oversize, prepare, unit_of_work)
