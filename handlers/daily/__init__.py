"""The daily cycle: reminders, deadlines, the consolidated 日报表, 日点评 and 提级管理."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router
from handlers.daily.commands import router
from handlers.daily.cycle import daily_tick
from handlers.daily.web import add_routes


def setup(app: Any) -> list[Router]:
    assert app.scheduler is not None
    app.scheduler.every("daily_tick", daily_tick, seconds=20)
    app.data["web_routes"].append(add_routes)
    return [router]
