"""日报表: understand inspection reports posted in the groups and keep them as records."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router
from handlers.reports.handlers import router
from handlers.reports.parse import Parser


def setup(app: Any) -> list[Router]:
    app.data["parser"] = Parser(app.regions, app.cfg, app.data["calendar"])
    return [router]
