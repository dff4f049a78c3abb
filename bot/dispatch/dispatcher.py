"""The one door every inbound event comes through: transports, the simulator and tests alike."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from bot.dispatch.router import SKIP, Router, check
from bot.events import InboundMessage

Next = Callable[[InboundMessage, dict[str, Any]], Awaitable[str]]
Middleware = Callable[[Next, InboundMessage, dict[str, Any]], Awaitable[str]]


class Dispatcher:
    def __init__(self, routers: Sequence[Router], middlewares: Sequence[Middleware], base: dict[str, Any]) -> None:
        self.routers = list(routers)
        self.base = base
        chain: Next = self._route
        for mw in reversed(middlewares):
            chain = partial(mw, chain)
        self._chain = chain

    async def feed(self, event: InboundMessage, raw_id: int | None = None) -> str:
        """Handle one event; returns the outcome recorded on its raw message.

        `raw_id` is set when the raw row was stored already (by the intake, or found pending after a crash)."""
        data = {**self.base, "event": event}
        if raw_id is not None:
            data["raw_id"] = raw_id
        return await self._chain(event, data)

    async def _route(self, event: InboundMessage, data: dict[str, Any]) -> str:
        for router in self.routers:
            for spec in router.handlers:
                extra = await check(spec.filters, data)
                if extra is None:
                    continue
                result = await spec.call({**data, **extra})
                if result is SKIP:
                    continue
                data["handler"] = spec.name
                return result if isinstance(result, str) else "handled"
        return "ignored"
