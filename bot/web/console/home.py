"""今日: a placeholder until the day's board lands (issue 14, second half)."""
from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.web.console.auth import require


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/console", today, name="console_home")


@require()
async def today(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("console/home.html", request, {})
