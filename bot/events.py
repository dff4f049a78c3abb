"""One inbound and one outbound model for every transport."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Attachment:
    name: str
    path: str
    mime: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    transport: str
    chat_id: str
    sender_id: str
    message_id: str
    text: str
    received_at: datetime
    is_group: bool = True
    mentions: tuple[str, ...] = ()
    to_bot: bool = False
    sender_name: str | None = None
    account: str = "default"
    attachments: tuple[Attachment, ...] = ()
    quote_id: str | None = None


@dataclass(frozen=True)
class Mention:
    id: str
    name: str


@dataclass(frozen=True)
class OutboundMessage:
    transport: str
    chat_id: str
    text: str
    account: str = "default"
    mentions: tuple[Mention, ...] = field(default_factory=tuple)
    attachment: str | None = None
