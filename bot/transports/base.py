"""The transport interface every chat platform implements."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from bot.events import InboundMessage, OutboundMessage


class Transport(Protocol):
    name: str
    account: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, msg: OutboundMessage) -> str:
        """Deliver one message; return the platform's message id. Raise on failure (the outbox retries)."""
        ...

    def events(self) -> AsyncIterator[InboundMessage]: ...

    def status(self) -> dict[str, Any]: ...
