"""aiogram-style routers: one per capability, handlers declared with filters."""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Filter = Callable[..., Any]
Handler = Callable[..., Awaitable[Any]]

SKIP = object()  # a handler returns this to say "not mine after all": routing goes on


@dataclass
class HandlerSpec:
    callback: Handler
    filters: tuple[Filter, ...]
    name: str
    params: frozenset[str] = field(default_factory=frozenset)
    takes_all: bool = False

    async def call(self, data: dict[str, Any]) -> Any:
        if self.takes_all:
            return await self.callback(**data)
        return await self.callback(**{k: v for k, v in data.items() if k in self.params})


class Router:
    def __init__(self, name: str, title: str | None = None) -> None:
        self.name = name
        self.title = title  # the capability's Chinese name, for the generated 帮助
        self.handlers: list[HandlerSpec] = []

    def message(self, *filters: Filter) -> Callable[[Handler], Handler]:
        def register(callback: Handler) -> Handler:
            sig = inspect.signature(callback)
            takes_all = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
            parts = self.name.split(".")
            owner = parts[1] if parts[0] == "handlers" and len(parts) > 1 else parts[-1]
            name = f"{owner}.{callback.__name__}"
            self.handlers.append(HandlerSpec(callback, filters, name, frozenset(sig.parameters), takes_all))
            return callback

        return register


async def check(filters: tuple[Filter, ...], data: dict[str, Any]) -> dict[str, Any] | None:
    """Run the filters in order; None if one says no, else what they added."""
    extra: dict[str, Any] = {}
    for f in filters:
        result = f({**data, **extra})
        if inspect.isawaitable(result):
            result = await result
        if not result:
            return None
        if isinstance(result, dict):
            extra.update(result)
    return extra
