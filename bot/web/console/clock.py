"""The demo clock control on every console page and on /sim; absent when a real transport is configured."""
from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.democlock import JUMPS, PLUS, clock_control, jump
from bot.web.app import APP
from bot.web.console.auth import refuse, require

LABELS = [*JUMPS, PLUS]


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_post("/console/clock", console_jump)
    web_app.router.add_get("/sim/api/clock", sim_clock)
    web_app.router.add_post("/sim/api/clock", sim_jump)
    web_app[aiohttp_jinja2.APP_CONTEXT_PROCESSORS_KEY].append(context)


async def context(request: web.Request) -> dict[str, Any]:
    bot = request.app[APP]
    return {"demo_clock": clock_control(bot), "demo_now": bot.clock.now(), "demo_jumps": LABELS}


def _refused_jump() -> str:
    return "时钟只能在模拟器演示模式下调整，且只能向后跳。"


@require()
async def console_jump(request: web.Request) -> web.StreamResponse:
    bot = request.app[APP]
    form = await request.post()
    if await jump(bot, str(form.get("to", ""))) is None:
        return refuse(request, _refused_jump(), 409)
    back = request.headers.get("Referer", "/console")
    raise web.HTTPSeeOther(back if back.startswith(("/", str(request.url.origin()))) else "/console")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def sim_clock(request: web.Request) -> web.Response:
    bot = request.app[APP]
    return _json({"enabled": clock_control(bot), "now": bot.clock.now().isoformat(), "jumps": LABELS})


async def sim_jump(request: web.Request) -> web.Response:
    bot = request.app[APP]
    if request.content_type != "application/json":  # a cross-site form cannot send JSON without a preflight
        return _json({"error": "请求体应为 JSON"}, 415)
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "请求体应为 JSON，如 {\"to\": \"14:00\"}"}, 400)
    when = await jump(bot, str(body.get("to", "")))
    if when is None:
        return _json({"error": _refused_jump()}, 409)
    return _json({"now": when.isoformat()})
