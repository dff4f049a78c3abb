"""The transport interface every chat platform implements."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from bot.events import InboundMessage, OutboundMessage


class Rejected(Exception):
    """The platform refused a message for good (not a connection problem): the outbox fails the row."""


class Transport(Protocol):
    name: str
    account: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, msg: OutboundMessage) -> str:
        """Deliver one message; return the platform's message id.

        Raise `Rejected` when the platform refuses it for good, `ConnectionError` (any OSError) when the
        connection is the problem (the outbox waits without counting an attempt). A transport may have an
        `online` attribute: while it is false, the outbox does not try it at all."""
        ...

    def events(self) -> AsyncIterator[InboundMessage]: ...

    def status(self) -> dict[str, Any]: ...
