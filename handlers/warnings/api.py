"""POST /api/warnings (token-authenticated) for systems such as a meteorological feed."""
from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from bot.audit import audit
from bot.tokens import owner_of
from handlers.warnings.issue import Order, new_warning, parse_order, reach_of
from handlers.warnings.jobs import ISSUING, issue_pending
from handlers.warnings.summary import export_records
from models.db import transaction
from models.warnings import Warning

MIN_DEADLINE, MAX_DEADLINE = 1, 1440


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_post("/api/warnings", post_warning)
    web_app.router.add_get("/warnings/{id}/records.xlsx", records_xlsx)


def _bot(request: web.Request) -> Any:
    from bot.web.app import APP

    return request.app[APP]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _bearer(request: web.Request) -> str | None:
    """The token after `Bearer `; None without that scheme."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _deadline(value: Any) -> float | str | None:
    """Minutes from the body, or a Chinese error."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "deadline_min 应为1到1440之间的分钟数"
    try:
        minutes = float(value)
    except ValueError:
        return f"deadline_min 应为分钟数，收到“{str(value)[:20]}”"
    if not math.isfinite(minutes) or not MIN_DEADLINE <= minutes <= MAX_DEADLINE:
        return f"deadline_min 应在{MIN_DEADLINE}到{MAX_DEADLINE}分钟之间"
    return minutes


async def post_warning(request: web.Request) -> web.Response:
    bot = _bot(request)
    token = _bearer(request)
    owner_id = await owner_of(bot, token) if token else None
    if owner_id is None:
        return _json({"error": "未授权：请在 Authorization 头中提供有效的个人令牌（Bearer 令牌）"}, 401)
    owner = bot.directory.people[owner_id]
    now = bot.clock.now()
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "请求体应为 JSON"}, 400)
    if not isinstance(body, dict):
        return _json({"error": "请求体应为 JSON 对象，如 {\"level\": \"红色\", …}"}, 400)
    if "duty_officer" not in owner.roles:
        async with transaction(bot.sessions) as session:
            audit(session, owner.id, "denied:warning_issue", now, via="api")
        return _json({"error": f"{owner.name}不是值班员，不能发起叫应"}, 403)
    claimed = body.get("issued_by")
    if claimed not in (None, "", owner.id, owner.name):
        return _json({"error": "issued_by 由令牌决定（令牌属于" + owner.name + "），请勿填写他人"}, 400)
    regions = body.get("regions", "")
    if isinstance(regions, list):
        regions = "、".join(str(r) for r in regions)
    level, kind, content = (body.get(k) for k in ("level", "type", "content"))
    if not all(isinstance(v, str | None) for v in (level, kind, content)) or not isinstance(regions, str):
        return _json({"error": "level、type、content 应为文字，regions 应为地区名列表"}, 400)
    deadline = _deadline(body.get("deadline_min"))
    if isinstance(deadline, str):
        return _json({"error": deadline}, 400)
    order = parse_order(f"{level or ''} {kind or ''} 范围：{regions}", bot.directory)
    if isinstance(order, str):
        return _json({"error": order}, 400)
    order = Order(order.level, kind or order.type, order.regions, content or "", deadline)
    async with transaction(bot.sessions) as session:
        w = new_warning(bot, order, owner.id, now, None, None)
        w.status = "cancelled" if body.get("dry_run") else ISSUING
        session.add(w)
        await session.flush()
        r = reach_of(bot, w)
        preview = {"groups": [bot.directory.groups[g].name for g in r.groups],
                   "people": [{"name": t.person.name, "region": t.region, "title": t.title} for t in r.targets],
                   "backups": [p.name for p in r.backups], "total": len(r.targets) + len(r.backups)}
        if body.get("dry_run"):
            return _json({"id": w.id, "status": "preview", "preview": preview})
        audit(session, owner.id, "warning_request", now, warning=w.id, people=len(r.targets), via="api")
    # committed as a durable job: answer now; the fan-out (seconds for a province) runs beside the server
    # and, should this process die first, the scheduled job resumes it
    bot.spawn(issue_pending(bot, now), f"issue:{w.id}")
    return _json({"id": w.id, "status": ISSUING, "title": w.title, "issued_by": owner.name, "preview": preview}, 202)


async def records_xlsx(request: web.Request) -> web.FileResponse:
    bot = _bot(request)
    wid = request.match_info["id"]
    if not wid.isascii() or not wid.isdigit() or len(wid) > 9:
        raise web.HTTPBadRequest(text="叫应编号应为数字，如 /warnings/12/records.xlsx")
    async with transaction(bot.sessions) as session:
        w = await session.get(Warning, int(wid))
        if w is None:
            raise web.HTTPNotFound(text="没有这个叫应")
        path = await export_records(session, bot, w, bot.settings.var_dir / "files" / f"叫应记录_{w.id}.xlsx")
    return web.FileResponse(path)
