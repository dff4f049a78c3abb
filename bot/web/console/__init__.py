"""The console: server-rendered pages under /console behind a one-time-code login.

`setup_console(bot, web_app)` wires sessions, CSRF, templates, static assets and every page module's routes.
A page module exposes `add_routes(web_app)`; list it in PAGES.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.clock import TZ
from bot.login import SESSION_TTL
from bot.web.console import (
    audit_page,
    auth,
    clock,
    hazards,
    login,
    routing_page,
    stats,
    system,
    today,
    warnings,
)

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
PAGES: list[Any] = [login, today, warnings, hazards, stats, system, clock, routing_page, audit_page]
NAV = [  # (label, path, roles that see it; empty = every console role)
    ("今日", "/console", ()),
    ("叫应", "/console/warnings", ()),
    ("隐患", "/console/hazards", ()),
    ("统计", "/console/stats", ()),
    ("路由", "/console/routing", ("admin",)),
    ("审计", "/console/audit", ("admin",)),
    ("系统", "/console/system", ()),
]


def setup_console(bot: Any, web_app: web.Application) -> None:
    secure = bot.settings.base_url().startswith("https://")  # behind TLS the cookie never travels in clear
    storage = EncryptedCookieStorage(auth.session_key(bot.settings), cookie_name=auth.COOKIE, secure=secure,
                                     max_age=int(SESSION_TTL.total_seconds()), httponly=True, samesite="Lax")
    aiohttp_session.setup(web_app, storage)
    # the template context middleware comes before the checks so that their refusal pages render
    env = aiohttp_jinja2.setup(web_app, loader=jinja2.FileSystemLoader(TEMPLATES), context_processors=[context],
                               autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    web_app.middlewares.append(auth.csrf_check)
    web_app.middlewares.append(auth.login_for_tools)
    env.filters.update(role_name=auth.role_name, role_names=auth.role_names, group_role_name=auth.group_role_name,
                       dt=format_dt, hm=format_hm)
    web_app.router.add_static("/console/static/", STATIC, name="console_static")
    for page in PAGES:
        page.add_routes(web_app)


async def context(request: web.Request) -> dict[str, Any]:
    """What every console template may use: the user, their Chinese roles, the CSRF token, the menu."""
    bot_name = request.app[auth.APP].directory.cfg.bot.name
    if not (request.path.startswith("/console") or auth.PROTECTED.match(request.path)):
        # aiohttp-jinja2 runs this for every request: leave the simulator's API and /healthz alone
        return {"user": None, "user_roles": "", "csrf_token": "", "nav": [], "path": request.path, "bot_name": bot_name}
    user = await auth.current_user(request)
    roles = set(user.roles) if user else set()
    return {
        "user": user,
        "user_roles": auth.role_names(user.roles) if user else "",
        "csrf_token": await auth.csrf_token(request),
        "nav": [(label, path) for label, path, need in NAV if user and (not need or roles & set(need))],
        "path": request.path,
        "bot_name": bot_name,
    }


def format_dt(value: datetime | None) -> str:
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def format_hm(value: datetime | None) -> str:
    return value.astimezone(TZ).strftime("%H:%M") if value else ""
