"""帮助, 我是谁, and the hint for commands nobody understood."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router
from handlers.basic.handlers import fallback_router, router


def setup(app: Any) -> list[Router]:
    return [router]


__all__ = ["fallback_router", "setup"]
