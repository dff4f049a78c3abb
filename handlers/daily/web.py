"""Download the consolidated 日报表 for any date: /reports/daily/2026-03-15.xlsx."""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

from aiohttp import web

from handlers.daily.consolidate import consolidated
from models.db import transaction


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/reports/daily/{day}.xlsx", daily_xlsx)


async def daily_xlsx(request: web.Request) -> web.FileResponse:
    from bot.web.app import APP

    bot = request.app[APP]
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        raise web.HTTPBadRequest(text="日期格式应为 2026-03-15") from None
    async with transaction(bot.sessions) as session:
        _, path = await consolidated(session, bot.directory, day, bot.settings.var_dir / "files")
    return web.FileResponse(path, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"})
