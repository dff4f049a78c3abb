"""Helpers for console tests: an HTTP client on the real web app, and logging in with a fresh code."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.login import issue_login
from bot.web.app import create_web
from models.db import transaction


@asynccontextmanager
async def console_client(app: App) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_web(app)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


async def new_code(app: App, person_id: str) -> tuple[str, str]:
    async with transaction(app.sessions) as s:
        issued = await issue_login(s, app.directory.people[person_id], app.clock.now())
    return issued.code, issued.token


async def log_in(client: TestClient, app: App, person_id: str) -> str:
    """Log in through the login form; returns the page's CSRF token for later POSTs."""
    code, _ = await new_code(app, person_id)
    page = await client.get("/console/login")
    resp = await client.post("/console/login", data={"code": code, "csrf_token": csrf_of(await page.text())},
                             allow_redirects=False)
    assert resp.status == 302, await resp.text()
    home = await client.get("/console")
    assert home.status == 200
    return csrf_of(await home.text())
