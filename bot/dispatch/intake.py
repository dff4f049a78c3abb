"""Taking a message in: make any text storable, store the raw row, rebuild events from stored rows.

The raw row is the promise that a message was accepted. It is committed before a transport
acknowledges the message and before any handler runs; rows still `pending` after a crash are
handled again (see App.recover).
"""
from __future__ import annotations

import dataclasses
import itertools
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.events import Attachment, InboundMessage
from models.bulk import Writes, reserve_ids
from models.core import RawMessage, RawText
from models.db import transaction

# Longer texts are stored in parts of PART characters, one short transaction each, by their own intake task
# (so they may be accepted after a later short message). As long as the longest text the bot reads
# (Settings.max_text_chars): a text that is handled is never reordered.
LONG_TEXT = 100_000
PART = 32_000
HEAD = 2_000  # what the raw row itself keeps of a long text (the parts hold it all)

# PostgreSQL's text type rejects NUL; no UTF-8 codec (SQLite's, asyncpg's) takes a lone surrogate
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable(text: str) -> tuple[str, list[str]]:
    """The text as every database takes it, and what was changed.

    NUL is dropped (an invisible control character the handlers drop anyway); a lone surrogate becomes
    U+FFFD, as a UTF-8 decoder would write it. The raw row keeps the original bytes and the list."""
    found: list[str] = []

    def esc(m: re.Match[str]) -> str:
        code = f"U+{ord(m.group()):04X}"
        if code not in found:
            found.append(code)
        return "" if m.group() == "\x00" else "\ufffd"

    return _UNSTORABLE.sub(esc, text), found


def _clean_event(event: InboundMessage) -> tuple[InboundMessage, list[str], bytes | None]:
    """The event with every text field storable; the escaped code points; the original text's bytes."""
    fields = (event.text, event.chat_id, event.sender_id, event.message_id, event.sender_name or "",
              event.quote_id or "", *event.mentions, *(a.name for a in event.attachments))
    if not _UNSTORABLE.search("".join(fields)):  # the usual case: nothing to change
        return event, [], None
    escaped: list[str] = []

    def fix(value: str) -> str:
        new, found = storable(value)
        escaped.extend(f for f in found if f not in escaped)
        return new

    text = fix(event.text)
    original = event.text.encode("utf-8", "surrogatepass") if text != event.text else None
    clean = dataclasses.replace(
        event,
        text=text,
        chat_id=fix(event.chat_id),
        sender_id=fix(event.sender_id),
        message_id=fix(event.message_id),
        sender_name=fix(event.sender_name) if event.sender_name else event.sender_name,
        mentions=tuple(fix(m) for m in event.mentions),
        quote_id=fix(event.quote_id) if event.quote_id else event.quote_id,
        attachments=tuple(Attachment(fix(a.name), a.path, a.mime) for a in event.attachments),
    )
    return clean, escaped, original


def raw_row(event: InboundMessage, directory: Any) -> tuple[RawMessage, InboundMessage]:
    values, event = stored_values(event, directory)
    return RawMessage(**values), event


def stored_values(event: InboundMessage, directory: Any) -> tuple[dict[str, Any], InboundMessage]:
    """The raw row's values for any event, and the storable event."""
    event, escaped, original = _clean_event(event)
    values = raw_values(event, directory)
    if escaped:
        values["meta"]["escaped"] = escaped  # the change is recorded; `original` keeps the bytes as received
    values["original"] = original
    return values, event


def raw_values(event: InboundMessage, directory: Any) -> dict[str, Any]:
    """The raw row of a storable event as plain values (a batch inserts them without ORM objects)."""
    meta: dict[str, Any] = {"mentions": list(event.mentions), "to_bot": event.to_bot,
                            "sender_name": event.sender_name, "quote_id": event.quote_id}
    return {
        "transport": event.transport,
        "account": event.account,
        "chat_id": event.chat_id[:128],
        "sender_id": event.sender_id[:128],
        "message_id": event.message_id[:128],
        "is_group": event.is_group,
        "sender_known": directory.person(event.transport, event.sender_id) is not None,
        "chat_known": not event.is_group or directory.group(event.transport, event.chat_id) is not None,
        "text": event.text,
        "attachments": [{"name": a.name, "path": a.path, "mime": a.mime} for a in event.attachments],
        "received_at": event.received_at,
        "meta": meta,
    }


def event_of(row: RawMessage, text: str | None = None) -> InboundMessage:
    """The event a stored row came from, for handling it again; `text`: a long text's parts joined (`full_texts`)."""
    meta = row.meta or {}
    return InboundMessage(
        transport=row.transport, account=row.account, chat_id=row.chat_id, sender_id=row.sender_id,
        message_id=row.message_id, text=row.text if text is None else text, received_at=row.received_at,
        is_group=row.is_group,
        mentions=tuple(meta.get("mentions") or ()), to_bot=bool(meta.get("to_bot")),
        sender_name=meta.get("sender_name"), quote_id=meta.get("quote_id"),
        attachments=tuple(Attachment(a.get("name", ""), a.get("path", ""), a.get("mime")) for a in row.attachments),
    )


async def full_texts(session: Any, rows: Iterable[RawMessage]) -> dict[int, str]:
    """Raw row id → the whole text, for the rows whose text was stored in parts."""
    bodies = {row.meta["body"]: row.id for row in rows if row.id is not None and (row.meta or {}).get("body")}
    if not bodies:
        return {}
    parts: dict[int, list[str]] = {}
    found = await session.exec(select(RawText.body, RawText.text).where(col(RawText.body).in_(list(bodies)))
                               .order_by(col(RawText.body), col(RawText.seq)))
    for body, text in found.all():
        parts.setdefault(bodies[body], []).append(text)
    return {raw_id: "".join(texts) for raw_id, texts in parts.items()}


async def _store_parts(data: dict[str, Any], row: RawMessage) -> None:
    """Write a long text (and its original bytes) in parts, then keep only its head in the row.

    Each part is its own transaction in the intake's lane, so acknowledgements get SQLite's writer between
    two parts; the row that makes the message accepted is inserted after the last part."""
    body, text, original = uuid.uuid4().hex, row.text, row.original
    texts = [text[i:i + PART] for i in range(0, len(text), PART)]
    originals = [original[i:i + 3 * PART] for i in range(0, len(original), 3 * PART)] if original else []
    for seq, (part, raw) in enumerate(itertools.zip_longest(texts, originals)):
        async with transaction(data["sessions"], urgent=True) as session:
            session.add(RawText(body=body, seq=seq, text=part or "", original=raw))
    row.text, row.original = text[:HEAD], None
    row.meta = {**row.meta, "body": body, "chars": len(text)}


async def _drop_parts(data: dict[str, Any], row: RawMessage) -> None:
    async with transaction(data["sessions"]) as session:
        await session.exec(delete(RawText).where(col(RawText.body) == row.meta["body"]))  # type: ignore[call-overload]


async def store_one(data: dict[str, Any], event: InboundMessage) -> tuple[InboundMessage, int | None]:
    """Store one raw row; (the storable event, its id), or id None when it is a duplicate."""
    row, event = raw_row(event, data["directory"])
    if len(event.text) > LONG_TEXT:
        await _store_parts(data, row)
    try:
        async with transaction(data["sessions"], urgent=True) as session:
            session.add(row)
            await session.flush()
            raw_id = row.id
    except IntegrityError:
        if (row.meta or {}).get("body"):
            await _drop_parts(data, row)
        return event, None
    return event, raw_id


async def store_many(data: dict[str, Any], events: Sequence[InboundMessage]) -> list[tuple[InboundMessage, int | None]]:
    """Store a burst in one commit and one bulk insert (SQLite's single writer pays one fsync, not hundreds).

    A duplicate anywhere in the burst makes it fall back to one row per transaction; so does a long text
    (stored in parts: see `_store_parts`)."""
    if any(len(e.text) > LONG_TEXT for e in events):
        short = iter(await store_many(data, [e for e in events if len(e.text) <= LONG_TEXT]))
        return [await store_one(data, e) if len(e.text) > LONG_TEXT else next(short) for e in events]
    seen: set[tuple[str, str]] = set()
    pairs: list[tuple[dict[str, Any] | None, InboundMessage]] = []
    for e in events:
        values, clean = stored_values(e, data["directory"])
        key = (values["transport"], values["message_id"])
        pairs.append((values if key not in seen else None, clean))
        seen.add(key)
    try:
        async with transaction(data["sessions"], urgent=True) as session:
            conn = await session.connection()
            rows = [v for v, _ in pairs if v is not None]
            reserved = (await reserve_ids(conn, {RawMessage: len(rows)})).get(RawMessage.__tablename__, [])
            writes = Writes(conn)
            writes.insert(RawMessage, [{"id": i, **v} for i, v in zip(reserved, rows, strict=True)])
            await writes.flush()
            ids = iter(reserved)
    except IntegrityError:
        return [await store_one(data, e) for e in events]
    return [(clean, next(ids) if values is not None else None) for values, clean in pairs]
