"""A warning board in real Chromium: acknowledgements typed in the simulator appear on the open board,
live (server-sent events), with no reload; the non-answerer filter follows."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import Settings
from tests.browser import CHROMIUM, launch, serve
from tests.console_client import new_code
from tests.test_warnings import JILIN, ORDER

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[str, App]]:
    async with serve(settings) as (app, url):
        yield url, app


async def _issue(app: App) -> None:
    for text in (ORDER, "@应急助手 确认"):
        assert await app.feed(app.sim.make_event("chuzhang", "liwd", text)) in ("warning_preview", "warning_issued")


async def test_board_updates_live_as_acks_arrive(served: tuple[str, App], tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    url, app = served
    expect.set_options(timeout=15_000)  # the machine may be busy: waits are for events, not for time
    await _issue(app)
    code, _ = await new_code(app, "liwd")
    names = [app.directory.people[p].name for p in JILIN]
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            page = await browser.new_page(locale="zh-CN")
            await page.goto(url + "/console/login")
            await page.fill("#code", code)
            await page.get_by_role("button", name="登录").click()
            await page.goto(url + "/console/warnings/1")
            board = page.locator("#board")
            await expect(board.locator(".summary")).to_contain_text("已回应 0/11")
            await page.evaluate("window.__notReloaded = true")
            # two people answer in the 吉林市 group through the simulator, one with measures
            await app.sim.post("g-jl", JILIN[0], "收到")
            await app.sim.post("g-jl", JILIN[1], "收到，已转移群众36人")
            row = board.locator("tr", has_text=names[1])
            await expect(row.locator("td.state")).to_have_text("已回应")
            await expect(board.locator("tr", has_text=names[0]).locator("td.state")).to_have_text("已回应")
            await expect(row).to_contain_text("已转移群众36人")
            await expect(board.locator(".summary")).to_contain_text("已回应 2/11")
            assert await page.evaluate("window.__notReloaded === true")
            await page.screenshot(path=str(tmp_path / "board.png"), full_page=True)
            # the filter for those who have not answered, still live
            await page.get_by_role("link", name="只看未回应").click()
            await expect(board.locator("tbody tr")).to_have_count(9)
            await page.evaluate("window.__notReloaded = true")
            await app.sim.post("g-jl", JILIN[2], "收到")
            await expect(board.locator("tbody tr")).to_have_count(8)
            await expect(board.locator("tbody")).not_to_contain_text(names[2])
            assert await page.evaluate("window.__notReloaded === true")
            text = await page.inner_text("body")
            assert "duty_officer" not in text and "liwd" not in text and "jl-yb" not in text
        finally:
            await browser.close()
