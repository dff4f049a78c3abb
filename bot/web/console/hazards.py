"""隐患: the ledger filtered by region, domain, status and overdue; each hazard's trail."""
from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.config import DOMAINS
from bot.web.app import APP
from bot.web.console.auth import require
from handlers.hazards.ledger import STATUS_NAMES, LedgerFilter, is_overdue, ledger, trail


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/console/hazards", hazards_page, name="console_hazards")
    web_app.router.add_get("/console/hazards/{id:\\d+}", hazard_trail)


@require()
async def hazards_page(request: web.Request) -> web.Response:
    bot = request.app[APP]
    q = request.query
    region = bot.regions.canonical(q.get("region")) if q.get("region") else None
    f = LedgerFilter(region=region, domain=q.get("domain") if q.get("domain") in DOMAINS else None,
                     status=q.get("status") if q.get("status") in STATUS_NAMES else None, overdue=q.get("overdue") == "1")
    try:
        page = int(q.get("page", "1"))
    except ValueError:
        page = 1
    today = bot.clock.now().date()
    async with bot.sessions() as session:
        result = await ledger(session, bot.directory, f, today, page)
    regions = [r.key for r in bot.regions.by_key.values() if r.level in ("province", "city")]
    query = "&".join(f"{k}={v}" for k, v in (("region", f.region), ("domain", f.domain), ("status", f.status),
                                               ("overdue", "1" if f.overdue else None)) if v)
    return aiohttp_jinja2.render_template("console/hazards.html", request, {
        "ledger": result, "f": f, "regions": regions, "domains": DOMAINS, "statuses": STATUS_NAMES,
        "today": today, "is_overdue": is_overdue, "query": query, "unknown_region": bool(q.get("region")) and not region})


@require()
async def hazard_trail(request: web.Request) -> web.Response:
    bot = request.app[APP]
    async with bot.sessions() as session:
        found = await trail(session, bot.directory, int(request.match_info["id"]))
    if found is None:
        raise web.HTTPNotFound(text="没有这个隐患")
    h, lines = found
    return aiohttp_jinja2.render_template("console/_hazard_trail.html", request, {
        "h": h, "lines": lines, "statuses": STATUS_NAMES})
