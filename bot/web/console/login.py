"""Log in with the one-time link or code from the private chat; log out. Failed codes are rate limited."""
from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session

from bot.login import end_session, find_code, may_log_in, start_session, why_unusable
from bot.web.app import APP
from bot.web.console.auth import csrf_token, current_user, role_names
from models.db import transaction

ATTEMPTS = web.AppKey("console_attempts", object)
WHY = {
    "invalid": "登录状态无效（凭据不完整或被改动），请重新登录。",
    "expired": "登录已过期或已退出，请重新登录。",
    "out": "已退出控制台。",
}


class Attempts:
    """Failed code attempts per client and in all, in a sliding window: 10⁶ codes must not be guessable."""

    def __init__(self, per_client: int = 5, overall: int = 50, window: timedelta = timedelta(minutes=5)) -> None:
        self.per_client, self.overall, self.window = per_client, overall, window
        self._fails: dict[str, deque[datetime]] = {}
        self._all: deque[datetime] = deque()

    def _trim(self, q: deque[datetime], now: datetime) -> deque[datetime]:
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, client: str, now: datetime) -> bool:
        mine = self._trim(self._fails.setdefault(client, deque()), now)
        return len(mine) >= self.per_client or len(self._trim(self._all, now)) >= self.overall

    def failed(self, client: str, now: datetime) -> None:
        self._fails.setdefault(client, deque()).append(now)
        self._all.append(now)


def add_routes(web_app: web.Application) -> None:
    web_app[ATTEMPTS] = Attempts()
    web_app.router.add_get("/console/login", login_page, name="console_login")
    web_app.router.add_post("/console/login", login_submit)
    web_app.router.add_post("/console/logout", logout, name="console_logout")


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/console"


def _page(request: web.Request, *, error: str | None = None, notice: str | None = None, who: str | None = None,
          token: str = "", status: int = 200) -> web.Response:
    ctx = {"error": error, "notice": notice, "who": who, "token": token, "next": _safe_next(request.query.get("next"))}
    return aiohttp_jinja2.render_template("console/login.html", request, ctx, status=status)


async def login_page(request: web.Request) -> web.Response:
    if not request.query.get("t") and await current_user(request) is not None:
        raise web.HTTPFound(_safe_next(request.query.get("next")))
    await csrf_token(request)  # the form's token lives in the (new) session cookie
    notice = WHY.get(request.query.get("why", ""))
    token = request.query.get("t", "")
    if not token:
        return _page(request, notice=notice)
    bot = request.app[APP]
    async with bot.sessions() as s:
        row = await find_code(s, token=token)
    problem = why_unusable(row, bot.clock.now())
    if problem:
        return _page(request, error=problem.replace("登录码不正确", "登录链接无效"), status=400)
    assert row is not None
    person = bot.directory.people.get(row.person_id)
    return _page(request, who=bot.directory.display(person) if person else None, token=token)


async def login_submit(request: web.Request) -> web.StreamResponse:
    bot = request.app[APP]
    form = await request.post()
    now = bot.clock.now()
    client = request.remote or "?"
    attempts: Attempts = request.app[ATTEMPTS]
    if attempts.blocked(client, now):
        return _page(request, error="尝试次数过多，请5分钟后再试。", status=429)
    code = str(form.get("code", "")).strip().replace(" ", "")
    token = str(form.get("t", ""))
    if not token and not (code.isdigit() and len(code) == 6):
        attempts.failed(client, now)
        return _page(request, error="请输入6位数字登录码。", status=400)
    async with transaction(bot.sessions) as s:
        row = await find_code(s, code=None if token else code, token=token or None)
        problem = why_unusable(row, now)
        person = bot.directory.people.get(row.person_id) if row else None
        if problem is None and not may_log_in(person):
            problem = f"您的角色（{role_names(person.roles if person else [])}）不能登录控制台。"
        if problem:
            attempts.failed(client, now)
            return _page(request, error=problem, status=403 if "角色" in problem else 400)
        assert row is not None
        live = await start_session(s, row, now)
    session = await new_session(request)  # a fresh cookie: nothing from before the login carries over
    session["sid"] = live.id
    await csrf_token(request)
    raise web.HTTPFound(_safe_next(str(form.get("next", ""))))


async def logout(request: web.Request) -> web.StreamResponse:
    bot = request.app[APP]
    session = await get_session(request)
    if session.get("sid"):
        async with transaction(bot.sessions) as s:
            await end_session(s, str(session["sid"]), bot.clock.now())
    session.invalidate()
    raise web.HTTPFound(request.app.router["console_login"].url_for().with_query(why="out"))
