"""Routing changes from the chat: bind a WeChat room or member to the configuration. Admins only, audited."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router
from handlers.admin import login
from handlers.admin.bindings import load_bindings, router


def setup(app: Any) -> list[Router]:
    app.data["startup"].append(load_bindings)
    return [login.router, router]
