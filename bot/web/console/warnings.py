"""叫应: the list, each warning's live board (server-sent events), 催叫, 解除, the record, and a new 叫应
with the same preview and confirmation as the chat."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.audit import audit
from bot.outbox import Outbox
from bot.web.app import APP
from bot.web.console.auth import current_user, refuse, require
from handlers.warnings.board import board, version, warning_list
from handlers.warnings.commands import PREVIEW_TTL
from handlers.warnings.issue import LEVELS, activate, new_warning, parse_order, reach_of
from handlers.warnings.summary import close_warning
from handlers.warnings.urge import urge_now
from models.db import transaction
from models.warnings import Warning

POLL_S = 1.0  # how often a live board looks for changes (any process may have written them)


def add_routes(web_app: web.Application) -> None:
    r = web_app.router
    r.add_get("/console/warnings", warnings_page, name="console_warnings")
    r.add_post("/console/warnings/preview", preview)
    r.add_get("/console/warnings/{id:\\d+}", board_page, name="console_board")
    r.add_get("/console/warnings/{id:\\d+}/events", board_events)
    r.add_post("/console/warnings/{id:\\d+}/confirm", confirm)
    r.add_post("/console/warnings/{id:\\d+}/cancel", cancel)
    r.add_post("/console/warnings/{id:\\d+}/urge", urge)
    r.add_post("/console/warnings/{id:\\d+}/close", close)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@require()
async def warnings_page(request: web.Request) -> web.Response:
    bot = request.app[APP]
    async with bot.sessions() as session:
        lines = await warning_list(session)
    return aiohttp_jinja2.render_template("console/warnings.html", request, {
        "lines": lines, "levels": list(LEVELS.values()), "cities": [r.key for r in bot.regions.cities()],
        "form": {}, "error": None})


@require()
async def board_page(request: web.Request) -> web.Response:
    bot = request.app[APP]
    silent_only = request.query.get("silent") == "1"
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        page = 1
    async with bot.sessions() as session:
        b = await board(session, bot, _id(request), silent_only=silent_only, page=page)
    if b is None:
        return refuse(request, "没有这个叫应（或它还未发出）。", 404, "找不到")
    template = "console/_board.html" if request.headers.get("HX-Request") else "console/board.html"
    return aiohttp_jinja2.render_template(template, request, {"b": b})


@require()
async def board_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `changed` whenever the board's data does; the page then refetches its rows."""
    bot = request.app[APP]
    wid = _id(request)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    last: Any = None
    try:
        await resp.write(b": hello\n\n")
        while True:
            async with bot.sessions() as session:
                now = await version(session, wid)
            if last is not None and now != last:
                await resp.write(b"event: changed\ndata: 1\n\n")
            elif last is None:
                await resp.write(b": ping\n\n")
            last = now
            await asyncio.sleep(POLL_S)
    except ConnectionResetError:  # the page was closed
        pass
    return resp


@require("duty_officer")
async def preview(request: web.Request) -> web.Response:
    """The form's order, previewed exactly as the chat previews it, with every name listed."""
    bot = request.app[APP]
    user = await current_user(request)
    assert user is not None
    form = await request.post()
    regions = "、".join(str(v) for v in form.getall("regions", []) if v) or str(form.get("regions_text", ""))
    text = (f"{form.get('level', '')} {form.get('type', '')} 范围：{regions} 内容：{form.get('content', '')} "
            f"时限{form.get('deadline', '')}分钟")
    order = parse_order(text, bot.directory)
    if isinstance(order, str):
        async with bot.sessions() as session:
            lines = await warning_list(session)
        return aiohttp_jinja2.render_template("console/warnings.html", request, {
            "lines": lines, "levels": list(LEVELS.values()), "cities": [r.key for r in bot.regions.cities()],
            "form": dict(form), "error": order}, status=400)
    now = bot.clock.now()
    async with transaction(bot.sessions) as session:
        w = new_warning(bot, order, user.id, now, None, None)
        session.add(w)
        await session.flush()
        r = reach_of(bot, w)
        if not r.targets:
            w.status = "cancelled"
        else:
            audit(session, user.id, "warning_preview", now, warning=w.id, via="console")
    groups = [(bot.directory.groups[g].name, ts) for g, ts in r.groups.items()]
    unplaced = [t for t in r.targets if not any(t in ts for ts in r.groups.values())]
    return aiohttp_jinja2.render_template("console/warning_preview.html", request, {
        "w": w, "r": r, "groups": groups, "unplaced": unplaced, "ttl_min": int(PREVIEW_TTL.total_seconds() // 60)})


async def _own_preview(request: web.Request, user: Any) -> Warning | None:
    bot = request.app[APP]
    async with bot.sessions() as session:
        w = await session.get(Warning, _id(request))
    if w is None or w.status != "preview" or w.issued_by != user.id or w.issued_at < bot.clock.now() - PREVIEW_TTL:
        return None
    return w


@require("duty_officer")
async def confirm(request: web.Request) -> web.StreamResponse:
    bot = request.app[APP]
    user = await current_user(request)
    if await _own_preview(request, user) is None:
        return refuse(request, "没有待确认的叫应（预览30分钟内有效，且只能由发起人确认）。", 409)
    now = bot.clock.now()
    async with transaction(bot.sessions) as session:
        w = await session.get(Warning, _id(request))
        if w is None or w.status != "preview":  # confirmed twice (double click, two tabs): send once
            return refuse(request, "该叫应已确认或已作废。", 409)
        n = await activate(bot, session, Outbox(session, bot.data), w, now)
        audit(session, user.id, "warning_issue", now, warning=w.id, people=n, via="console")  # type: ignore[union-attr]
    bot.outbox_sender.wake()
    raise web.HTTPSeeOther(f"/console/warnings/{_id(request)}")


@require("duty_officer")
async def cancel(request: web.Request) -> web.StreamResponse:
    bot = request.app[APP]
    user = await current_user(request)
    if await _own_preview(request, user) is None:
        return refuse(request, "没有待确认的叫应。", 409)
    async with transaction(bot.sessions) as session:
        w = await session.get(Warning, _id(request))
        assert w is not None
        w.status = "cancelled"
        session.add(w)
    raise web.HTTPSeeOther("/console/warnings")


@require("duty_officer")
async def urge(request: web.Request) -> web.StreamResponse:
    """催叫 now: everyone still silent gets their next escalation step at once."""
    bot = request.app[APP]
    user = await current_user(request)
    assert user is not None
    n = await urge_now(bot, _id(request), bot.clock.now(), by=user.id)
    if n is None:
        return refuse(request, "该叫应不在进行中，无法催叫。", 409)
    raise web.HTTPSeeOther(f"/console/warnings/{_id(request)}?silent=1")


@require("duty_officer")
async def close(request: web.Request) -> web.StreamResponse:
    bot = request.app[APP]
    user = await current_user(request)
    assert user is not None
    now = bot.clock.now()
    async with transaction(bot.sessions) as session:
        w = await session.get(Warning, _id(request))
        if w is None or w.status != "active":
            return refuse(request, "该叫应不在进行中，无需解除。", 409)
        await close_warning(bot, session, Outbox(session, bot.data), w, now, closed_by=user.id)
        audit(session, user.id, "warning_close", now, warning=w.id, via="console")
    bot.outbox_sender.wake()
    raise web.HTTPSeeOther(f"/console/warnings/{_id(request)}")
