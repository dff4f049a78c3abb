"""Cross-cutting layers around every handler: log context, raw storage and de-duplication,
error isolation, identification, the per-chat lock and the unit of work."""
from __future__ import annotations

import asyncio
import traceback
from collections import OrderedDict
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import update

from bot.dispatch.dispatcher import Next
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
    """Store the message before anything else; the same transport message id is handled once."""
    dedup, key = data["dedup"], f"{event.transport}:{event.message_id}"
    if not await dedup.first_time(key):
        return "duplicate"
    directory = data["directory"]
    row = RawMessage(
        transport=event.transport,
        account=event.account,
        chat_id=event.chat_id,
        sender_id=event.sender_id,
        message_id=event.message_id,
        is_group=event.is_group,
        sender_known=directory.person(event.transport, event.sender_id) is not None,
        chat_known=not event.is_group or directory.group(event.transport, event.chat_id) is not None,
        text=event.text,
        attachments=[{"name": a.name, "path": a.path, "mime": a.mime} for a in event.attachments],
        received_at=event.received_at,
    )
    try:
        async with transaction(data["sessions"]) as session:
            session.add(row)
            await session.flush()
            data["raw_id"] = row.id
    except IntegrityError:
        return "duplicate"
    except BaseException:
        await dedup.release(key)  # not stored: a redelivery must not be taken for a duplicate
        raise
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


async def unit_of_work(nxt: Next, event: InboundMessage, data: dict[str, Any]) -> str:
    """One DB session around the handler; its outbox rows commit with its changes."""
    async with transaction(data["sessions"]) as session:
        data["session"] = session
        outbox = Outbox(session, data)
        data["outbox"] = outbox
        outcome = await nxt(event, data)
        await _set_outcome(session, data, outcome, None)
    if outbox.count:
        data["outbox_sender"].wake()
    return outcome


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

    async def first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True

    async def release(self, key: str) -> None:
        self._seen.pop(key, None)


class RedisDedup:
    """Shared across bot processes: SET NX with a TTL."""

    def __init__(self, redis: Any, ttl_s: int = 7 * 24 * 3600) -> None:
        self.redis = redis
        self.ttl = ttl_s

    async def first_time(self, key: str) -> bool:
        return bool(await self.redis.set(f"dedup:{key}", 1, nx=True, ex=self.ttl))

    async def release(self, key: str) -> None:
        await self.redis.delete(f"dedup:{key}")


DEFAULT_CHAIN = (log_context, fast_lanes, store_raw, errors, identify, chat_lock, unit_of_work)
