"""One package per capability, each with its own router. `install` fixes their order."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router


def install(app: Any) -> list[Router]:
    from handlers import admin, basic, daily, hazards, reports, warnings

    routers: list[Router] = []
    routers.extend(basic.setup(app))
    routers.extend(admin.setup(app))
    routers.extend(warnings.ack_routers())  # answers to warnings first: `收到` must never fall through
    for module in (reports, daily, hazards, warnings):
        routers.extend(module.setup(app))
    routers.append(basic.fallback_router())
    return routers
