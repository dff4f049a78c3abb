"""Voice calls and SMS through a provider interface. They travel through the outbox like chat
messages, so rate limits, retries and the record hold for them too."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from bot.events import InboundMessage, OutboundMessage


class CallProvider(Protocol):
    async def call(self, kind: str, to: str, text: str) -> str: ...


@dataclass
class PlacedCall:
    kind: str
    to: str
    text: str


class RecordingProvider:
    """The default: records what it would send (real carriers plug in later)."""

    def __init__(self) -> None:
        self.calls: list[PlacedCall] = []
        self.log = structlog.get_logger("voice")

    async def call(self, kind: str, to: str, text: str) -> str:
        self.calls.append(PlacedCall(kind, to, text))
        self.log.info("call.recorded", kind=kind, to=to, text=text[:80])
        return f"{kind}-{len(self.calls)}"


class HttpProvider:
    """POSTs {kind, to, text} as JSON to a configured endpoint; any non-2xx is a failure to retry."""

    def __init__(self, endpoint: str, token: str | None = None) -> None:
        self.endpoint = endpoint
        self.token = token

    async def call(self, kind: str, to: str, text: str) -> str:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, http.post(
            self.endpoint, json={"kind": kind, "to": to, "text": text}, headers=headers
        ) as resp:
            body = await resp.text()
            if resp.status >= 300:
                raise ConnectionError(f"provider answered {resp.status}: {body[:200]}")
            return body[:128] or "ok"


class CallTransport:
    """`voice` or `sms`: chat ids are `tel:<number>`."""

    def __init__(self, name: str, provider: CallProvider, account: str = "default") -> None:
        self.name = name
        self.account = account
        self.provider = provider

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def status(self) -> dict[str, Any]:
        return {"transport": self.name, "account": self.account, "state": "running",
                "provider": type(self.provider).__name__}

    async def events(self) -> AsyncIterator[InboundMessage]:
        if False:  # calls carry no inbound messages
            yield  # type: ignore[unreachable]

    async def send(self, msg: OutboundMessage) -> str:
        return await self.provider.call(self.name, msg.chat_id.removeprefix("tel:"), msg.text)
