"""One package per capability, each with its own router. `install` fixes their order."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router


def install(app: Any) -> list[Router]:
    from handlers import basic, daily, hazards, reports

    routers: list[Router] = []
    for module in (basic, reports, daily, hazards):
        routers.extend(module.setup(app))
    routers.append(basic.fallback_router())
    return routers
