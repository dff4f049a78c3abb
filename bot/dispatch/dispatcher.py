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

    def feed_many(self, pairs: list[tuple[InboundMessage, int]], pass_on: Callable[[InboundMessage, int], None],
                  handled: Callable[[int, str], None]) -> None:
        """A burst a transport's intake stored (raw row ids set): each burst lane (a capability's batch path,
        `data["burst_lanes"]`) takes what it handles together and reports each outcome to `handled`; every
        other message goes to `pass_on`, the caller's way into `feed`, in order per chat and sender."""
        for lane in self.base.get("burst_lanes", ()):
            pairs = lane.offer(pairs, pass_on, handled)
        for event, raw_id in pairs:
            pass_on(event, raw_id)

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
