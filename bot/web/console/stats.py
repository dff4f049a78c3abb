"""统计: 30-day reporting rate per city, hazards found and rectified per domain, ack latency per region."""
from __future__ import annotations

import json
from datetime import timedelta

import aiohttp_jinja2
from aiohttp import web

from bot.web.app import APP
from bot.web.console.auth import require
from handlers.daily.rates import reporting_rates
from handlers.hazards.ledger import by_domain
from handlers.warnings.latency import latency_by_city
from handlers.warnings.summary import RULE_S

DAYS = 30


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/console/stats", stats_page, name="console_stats")


@require()
async def stats_page(request: web.Request) -> web.Response:
    bot = request.app[APP]
    now = bot.clock.now()
    async with bot.sessions() as session:
        rates = await reporting_rates(session, bot.directory, bot.data["calendar"], now.date(), DAYS)
        domains = await by_domain(session, now.date() - timedelta(days=DAYS))
        latency = await latency_by_city(session, bot.directory, now - timedelta(days=DAYS))
    data = {
        "rate": {"cities": list(rates), "values": [round(r * 100 / o, 1) if o else 0 for r, o in rates.values()]},
        "hazards": {"domains": list(domains), "found": [f for f, _ in domains.values()],
                    "rectified": [r for _, r in domains.values()]},
        "latency": {"cities": list(latency),
                    "median_min": [round(v.median_s / 60, 1) if v.median_s is not None else None for v in latency.values()],
                    "within": [round(v.within_rule * 100 / v.named, 1) if v.named else 0 for v in latency.values()],
                    "rule_min": RULE_S / 60},
    }
    return aiohttp_jinja2.render_template("console/stats.html", request, {
        "days": DAYS, "rates": rates, "domains": domains, "latency": latency,
        "chart_data": json.dumps(data, ensure_ascii=False).replace("</", "<\\/")})
