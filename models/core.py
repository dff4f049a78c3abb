"""The spine's tables: raw inbound messages, the outbox, the audit log, chat bindings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.types import json_dict, json_list, when

UNKNOWN_CHAT = "is_group AND NOT chat_known"  # the search is spelled the same, or the index does not apply
PENDING = "outcome = 'pending'"


class RawMessage(SQLModel, table=True):
    __tablename__ = "raw_messages"
    __table_args__ = (
        UniqueConstraint("transport", "message_id", name="uq_raw_transport_msg"),
        # partial: each holds only the rows its one search looks for (see migration b8c9d0e1f2a3)
        Index("ix_raw_messages_unknown_chat", "transport", "chat_id",
              sqlite_where=text(UNKNOWN_CHAT), postgresql_where=text(UNKNOWN_CHAT)),
        Index("ix_raw_messages_pending", "id", sqlite_where=text(PENDING), postgresql_where=text(PENDING)),
    )

    id: int | None = Field(default=None, primary_key=True)
    transport: str = Field(max_length=32)
    account: str = Field(default="default", max_length=64)
    chat_id: str = Field(max_length=128)
    sender_id: str = Field(max_length=128)
    message_id: str = Field(max_length=128)
    is_group: bool = True
    sender_known: bool = True
    chat_known: bool = True
    text: str
    attachments: list = json_list()
    received_at: datetime = when(index=True)
    outcome: str = Field(default="pending", max_length=32)
    handler: str | None = Field(default=None, max_length=128)
    error: str | None = None
    # what a re-handle after a crash needs (mentions, to_bot, sender name, quote) and what was escaped
    meta: dict = json_dict()
    original: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)  # the bytes as received


class RawText(SQLModel, table=True):
    """A long inbound text in parts, each written in its own short transaction before the raw row that names
    it (`meta["body"]`): SQLite has one writer, and a megabyte in the raw row would hold it for the insert and
    again for every later update of the row (its outcome), which rewrites the whole record."""
    __tablename__ = "raw_texts"
    __table_args__ = (UniqueConstraint("body", "seq", name="uq_raw_text_part"),)

    id: int | None = Field(default=None, primary_key=True)
    body: str = Field(max_length=32)
    seq: int
    text: str = ""
    original: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)  # the same part as received


class OutboxEntry(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "transport", "account", "lane", "next_attempt_at", "id"),
        Index("ix_outbox_chat", "transport", "account", "chat_id", "lane", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    transport: str = Field(max_length=32)
    account: str = Field(default="default", max_length=64)
    chat_id: str = Field(max_length=128)
    text: str
    mentions: list = json_list()
    attachment: str | None = None
    reason: str = Field(default="reply", max_length=64)
    correlation_id: str | None = Field(default=None, max_length=128, index=True)
    status: str = Field(default="pending", max_length=16)  # pending|sending|sent|failed|dropped|retried
    lane: int = 6  # priority: 0–3 warnings by level, 4 提示函, 5 日报表/日点评, 6 everything else
    lease: int = 0  # fencing token: bumped by every claim; only the holder of the latest may finish the row
    attempts: int = 0
    next_attempt_at: datetime = when()
    lease_until: datetime | None = when(nullable=True, default=None)
    created_at: datetime = when()
    sent_at: datetime | None = when(nullable=True, default=None)
    transport_message_id: str | None = Field(default=None, max_length=128)
    last_error: str | None = None


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = when(index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    detail: dict = json_dict()


class Binding(SQLModel, table=True):
    """A chat room or a person bound at run time to a configuration entry."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("transport", "kind", "transport_id", name="uq_binding"),)

    id: int | None = Field(default=None, primary_key=True)
    transport: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # group | person
    transport_id: str = Field(max_length=128)
    config_id: str = Field(max_length=128)
    bound_by: str = Field(max_length=128)
    bound_at: datetime = when()


class KeyValue(SQLModel, table=True):
    """Small durable flags (e.g. a warning already given once)."""

    __tablename__ = "kv"

    key: str = Field(primary_key=True, max_length=128)
    value: dict = json_dict()


class ApiToken(SQLModel, table=True):
    """A personal API token: only its SHA-256 is stored; revoking sets revoked_at."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = Field(max_length=128, index=True)
    digest: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=128)
    created_at: datetime = when()
    revoked_at: datetime | None = when(nullable=True, default=None)
