"""今日: today's round(s), every unit by city, counts and the countdown; a unit's report beside its parse."""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.app import APP
from bot.web.console.auth import require
from handlers.daily.rounds import slots_for
from handlers.daily.today import STATUS_NAMES, today_board, unit_report


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/console", today, name="console_home")
    web_app.router.add_get("/console/today/{round}/{unit}", unit_detail, name="console_unit")


@require()
async def today(request: web.Request) -> web.Response:
    bot = request.app[APP]
    now = bot.clock.now()
    async with bot.sessions() as session:
        board = await today_board(session, bot.directory, bot.cfg, bot.data["calendar"], now)
    return aiohttp_jinja2.render_template("console/today.html", request,
                                          {"board": board, "status_names": STATUS_NAMES})


@require()
async def unit_detail(request: web.Request) -> web.Response:
    bot = request.app[APP]
    unit = bot.directory.units.get(request.match_info["unit"])
    if unit is None:
        raise web.HTTPNotFound(text="没有这个单位")
    now = bot.clock.now()
    async with bot.sessions() as session:
        slots = await slots_for(session, now.date(), bot.cfg, bot.data["calendar"])
        slot = next((s for s in slots if str(s.round) == request.match_info["round"]), None)
        view = await unit_report(session, unit.id, slot) if slot else None
    ctx: dict[str, Any] = {"unit": unit, "slot": slot, "view": view, "figures": view.data.figures(view.report) if view else None,
                           "poster": _poster(bot, view.report.posted_by) if view else ""}
    return aiohttp_jinja2.render_template("console/_unit_report.html", request, ctx)


def _poster(bot: Any, actor: str) -> str:
    from handlers.hazards.ledger import who

    return who(bot.directory, actor)
