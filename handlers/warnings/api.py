"""POST /api/warnings (token-authenticated) for systems such as a meteorological feed."""
from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from bot.audit import audit
from handlers.warnings.issue import Order, new_warning, parse_order, reach_of
from handlers.warnings.jobs import ISSUING, issue_pending
from handlers.warnings.summary import export_records
from models.db import transaction
from models.warnings import Warning


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_post("/api/warnings", post_warning)
    web_app.router.add_get("/warnings/{id}/records.xlsx", records_xlsx)


def _bot(request: web.Request) -> Any:
    from bot.web.app import APP

    return request.app[APP]


def _authorized(request: web.Request, token: str | None) -> bool:
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given, token or "")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def post_warning(request: web.Request) -> web.Response:
    bot = _bot(request)
    if not _authorized(request, bot.settings.api_token):
        return _json({"error": "未授权：请在 Authorization 头中提供 Bearer 令牌"}, 401)
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "请求体应为 JSON"}, 400)
    regions = body.get("regions", "")
    text = f"{body.get('level', '')} {body.get('type', '')} 范围：{'、'.join(regions) if isinstance(regions, list) else regions}"
    order = parse_order(text, bot.directory)
    if isinstance(order, str):
        return _json({"error": order}, 400)
    order = Order(order.level, body.get("type") or order.type, order.regions, body.get("content", ""),
                  float(body["deadline_min"]) if body.get("deadline_min") else None)
    now = bot.clock.now()
    async with transaction(bot.sessions) as session:
        w = new_warning(bot, order, str(body.get("issued_by") or "api"), now, None, None)
        w.status = "cancelled" if body.get("dry_run") else ISSUING
        session.add(w)
        await session.flush()
        r = reach_of(bot, w)
        preview = {"groups": [bot.directory.groups[g].name for g in r.groups],
                   "people": [{"name": t.person.name, "region": t.region, "title": t.title} for t in r.targets],
                   "backups": [p.name for p in r.backups], "total": len(r.targets) + len(r.backups)}
        if body.get("dry_run"):
            return _json({"id": w.id, "status": "preview", "preview": preview})
        audit(session, "api", "warning_request", now, warning=w.id, people=len(r.targets))
    # committed as a durable job: answer now; the fan-out (seconds for a province) runs beside the server
    # and, should this process die first, the scheduled job resumes it
    bot.spawn(issue_pending(bot, now), f"issue:{w.id}")
    return _json({"id": w.id, "status": ISSUING, "title": w.title, "preview": preview}, 202)


async def records_xlsx(request: web.Request) -> web.FileResponse:
    bot = _bot(request)
    async with transaction(bot.sessions) as session:
        w = await session.get(Warning, int(request.match_info["id"]))
        if w is None:
            raise web.HTTPNotFound(text="没有这个叫应")
        path = await export_records(session, bot, w, bot.settings.var_dir / "files" / f"叫应记录_{w.id}.xlsx")
    return web.FileResponse(path)
