"""The console in a real headless Chromium (Debian's, through Playwright), with CJK fonts for screenshots."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.login import issue_login
from bot.settings import Settings
from models.db import transaction
from tests.browser import CHROMIUM, launch, serve

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[App, str]]:
    async with serve(settings) as (app, url):
        yield app, url


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await launch(pw)
        try:
            yield b
        finally:
            await b.close()


async def _code(app: App, person_id: str) -> str:
    async with transaction(app.sessions) as s:
        return (await issue_login(s, app.directory.people[person_id], app.clock.now())).code


async def _log_in(page: Any, url: str, code: str) -> None:
    await page.goto(url + "/console/login")
    await page.fill("#code", code)
    await page.get_by_role("button", name="登录", exact=True).click()


async def test_login_by_code_from_the_private_chat(served: tuple[App, str], browser: Any, tmp_path: Path) -> None:
    _, url = served
    page = await browser.new_page()
    await page.goto(url + "/sim")  # the loopback demo: the simulator needs no login
    await page.get_by_text("私聊 应急助手").click()
    await page.select_option("#member", "shenlx")
    await page.fill("#text", "登录")
    await page.click("#send")
    reply = page.locator(".msg.bot .body", has_text="登录码")
    await reply.wait_for(timeout=10_000)
    code = re.search(r"登录码：(\d{6})", await reply.inner_text())
    assert code, await reply.inner_text()
    await _log_in(page, url, code.group(1))
    await page.locator(".who", has_text="沈立新（管理员、值班员）").wait_for(timeout=10_000)
    assert await page.locator("nav a", has_text="路由").count() == 1
    await page.screenshot(path=str(tmp_path / "login.png"), full_page=True)
    other = await (await browser.new_context()).new_page()  # the same code again, from another browser
    await _log_in(other, url, code.group(1))
    await other.locator(".error", has_text="只能用一次").wait_for(timeout=10_000)
    await page.goto(url + "/console/login")  # already logged in: straight to the console
    assert page.url.endswith("/console")


async def test_reporter_and_duty_officer_are_refused(served: tuple[App, str], browser: Any) -> None:
    app, url = served
    page = await browser.new_page()
    await page.goto(url + "/sim")
    await page.get_by_text("私聊 应急助手").click()
    await page.select_option("#member", "sp-bs")
    await page.fill("#text", "登录")
    await page.click("#send")
    await page.locator(".msg.bot .body", has_text="仅供管理员、值班员和处长使用").wait_for(timeout=10_000)
    await page.goto(url + "/console/routing")
    assert "/console/login" in page.url  # no session: the login page, not the console
    await _log_in(page, url, "123456")
    await page.locator(".error", has_text="登录码不正确").wait_for(timeout=10_000)

    await _log_in(page, url, await _code(app, "liwd"))  # a duty officer, not an admin
    await page.locator(".who", has_text="值班员").wait_for(timeout=10_000)
    assert await page.locator("nav a", has_text="路由").count() == 0
    response = await page.goto(url + "/console/routing")
    assert response is not None and response.status == 403
    await page.locator(".error", has_text="此页面仅限管理员使用").wait_for()


async def test_routing_change_with_diff_confirmation_and_undo(served: tuple[App, str], browser: Any,
                                                              tmp_path: Path) -> None:
    app, url = served
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await _log_in(page, url, await _code(app, "shenlx"))
    await page.locator(".who").wait_for()
    await page.goto(url + "/console/routing")
    await page.locator("#people tr", has_text="孙雪松").get_by_role("link", name="修改").click()
    await page.fill("#responsible", "四平市 一把手")
    await page.get_by_role("button", name="预览修改").click()
    diff = page.locator("#diff tr.changed", has_text="责任地区与职务")
    await diff.wait_for()
    assert await diff.locator("td.before").inner_text() == "四平市 包保责任人"
    assert await diff.locator("td.after").inner_text() == "四平市 一把手"
    await page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)
    assert app.directory.people["sp-bb"].responsible[0].title == "包保责任人"  # not before confirming
    await page.get_by_role("button", name="确认修改").click()
    await page.locator(".ok", has_text="已保存").wait_for()
    assert app.directory.people["sp-bb"].responsible[0].title == "一把手"
    assert "四平市一把手" in await page.locator("#people tr", has_text="孙雪松").inner_text()

    await page.get_by_role("link", name="审计").click()
    row = page.locator("#audit tr", has_text="修改路由")
    await row.get_by_role("button", name="撤销…").click()
    await page.locator("#diff td.after", has_text="四平市 包保责任人").wait_for()
    await page.get_by_role("button", name="确认撤销").click()
    await page.locator(".ok", has_text="已撤销").wait_for()
    assert app.directory.people["sp-bb"].responsible[0].title == "包保责任人"
    await page.locator("#audit tr", has_text="撤销路由修改").wait_for()
    assert await page.locator("#audit .muted", has_text="已撤销").count() == 1
    await page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)


async def test_post_without_its_csrf_token_is_rejected(served: tuple[App, str], browser: Any) -> None:
    app, url = served
    page = await browser.new_page()
    await _log_in(page, url, await _code(app, "shenlx"))
    await page.locator(".who").wait_for()
    await page.goto(url + "/console/routing/group/g-jl")
    await page.select_option("#region", "长春市")
    await page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    await page.get_by_role("button", name="预览修改").click()
    await page.locator(".error", has_text="缺少安全校验码").wait_for()
    status = await page.evaluate("""async () => (await fetch('/console/routing/apply', {method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'},
        body: 'kind=group&id=g-jl&changes=%7B%22region%22%3A%22%E9%95%BF%E6%98%A5%E5%B8%82%22%7D'})).status""")
    assert status == 403
    assert app.directory.groups["g-jl"].region == "吉林市"
