"""Who is logged in to the console, what they may do, and the CSRF token every POST carries.

Pages call `current_user(request)` or wrap their handler in `@require("admin", …)`; both read the
encrypted session cookie and the live session row, so a logout or an expired session ends at once.
"""
from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from cryptography.fernet import Fernet

from bot.config import Person
from bot.directory import GROUP_ROLE_NAMES, ROLE_NAMES
from bot.login import CONSOLE_ROLES, live_session, may_log_in
from bot.settings import Settings
from bot.web.app import APP

COOKIE = "yjzd_console"
KEY_FILE = "console_session.key"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
USER = web.RequestKey("console_user", object)
NO_LONGER = web.RequestKey("console_no_longer", object)  # logged in, but the role that allowed it is gone
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# /sim lets its user speak as anyone, and the downloads hold names and phone numbers.
PROTECTED = re.compile(r"^/(sim(/|$)|reports/|files/|warnings/\d+/records\.xlsx$)")


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, "其他角色")


def role_names(roles: Iterable[str]) -> str:
    return "、".join(role_name(r) for r in roles) or "无角色"


def group_role_name(role: str) -> str:
    return GROUP_ROLE_NAMES.get(role, "其他")


def session_key(settings: Settings) -> str:
    """BOT_SESSION_KEY, else a key generated once and kept under var/ so restarts keep sessions."""
    if settings.session_key:
        return settings.session_key
    path = Path(settings.var_dir) / KEY_FILE
    if path.is_file():
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def demo_open(bot: Any) -> bool:
    """The `make run` demo: only the simulator, listening on loopback. There /sim and downloads need no login."""
    chat = {name for name, _ in bot.transports} - {"voice", "sms"}
    return chat == {"sim"} and bot.settings.host in LOOPBACK


async def current_user(request: web.Request) -> Person | None:
    """The logged-in person, or None (no cookie, tampered cookie, ended or expired session, lost role)."""
    if USER in request:
        return request[USER]
    bot = request.app[APP]
    user = None
    sid = (await get_session(request)).get("sid")
    if sid:
        async with bot.sessions() as s:
            live = await live_session(s, str(sid), bot.clock.now())
        person = bot.directory.people.get(live.person_id) if live else None
        user = person if may_log_in(person) else None
        if live and user is None:
            request[NO_LONGER] = person
    request[USER] = user
    return user


async def why_logged_out(request: web.Request) -> str | None:
    """A short key for the login page: a cookie was sent but did not hold a live session."""
    if COOKIE not in request.cookies:
        return None
    session = await get_session(request)
    return "invalid" if session.new else "expired" if session.get("sid") else None


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token (created on first use); forms send it as `csrf_token`, htmx as X-CSRF-Token."""
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return str(token)


def refuse(request: web.Request, message: str, status: int = 403, title: str = "无法办理") -> web.Response:
    return aiohttp_jinja2.render_template("console/refused.html", request, {"title": title, "message": message},
                                          status=status)


async def login_needed(request: web.Request) -> web.StreamResponse:
    if NO_LONGER in request:  # e.g. an admin was made a plain reporter while logged in
        person = request[NO_LONGER]
        roles = role_names(person.roles) if person is not None else "已不在名录中"
        return refuse(request, f"您现在的角色（{roles}）不能使用控制台。", 403, "无权访问")
    why = await why_logged_out(request)
    page = not request.headers.get("HX-Request") and "/api/" not in request.path and request.path != "/sim/events"
    if request.method == "GET" and page:
        query = {"next": request.path_qs}
        if why:
            query["why"] = why
        raise web.HTTPFound(request.app.router["console_login"].url_for().with_query(query))
    return refuse(request, "请先登录控制台（在私聊中向机器人发送“登录”获取登录码）。", 401, "需要登录")


def require(*roles: str) -> Callable[[Handler], Handler]:
    """Server-side role check: no login → the login page; the wrong role → a Chinese refusal (403)."""
    allowed = roles or CONSOLE_ROLES

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = await current_user(request)
            if user is None:
                return await login_needed(request)
            if not set(allowed) & set(user.roles):
                return refuse(request, f"此页面仅限{role_names(allowed)}使用；您的角色是{role_names(user.roles)}。")
            return await handler(request)

        return guarded

    return wrap


@web.middleware
async def csrf_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every console POST carries the session's token; a forged or stale form changes nothing."""
    if request.method == "POST" and request.path.startswith("/console"):
        sent = request.headers.get("X-CSRF-Token")
        if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sent = (await request.post()).get("csrf_token")
        want = (await get_session(request)).get("csrf")
        if not want or not isinstance(sent, str) or not hmac.compare_digest(sent, str(want)):
            return refuse(request, "表单已失效或缺少安全校验码，未做任何修改。请刷新页面后重试。", 403, "请求被拒绝")
    return await handler(request)


@web.middleware
async def login_for_tools(request: web.Request, handler: Handler) -> web.StreamResponse:
    """/sim and the downloads need a console login, except in the loopback simulator demo."""
    if PROTECTED.match(request.path) and not demo_open(request.app[APP]) and await current_user(request) is None:
        return await login_needed(request)
    return await handler(request)
