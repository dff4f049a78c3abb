"""Drive the /sim page in a real headless Chromium (Debian's, through Playwright)."""
from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.app import create_app
from bot.settings import Settings
from bot.web.app import create_web
from tests.services import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.browser


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[str]:
    app = create_app(settings)
    await app.start()
    runner = web.AppRunner(create_web(app), shutdown_timeout=1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await app.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
async def test_pick_group_and_member_then_get_help(served: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = await browser.new_page()
            await page.goto(served + "/sim")
            await page.get_by_text("处长工作群").click()
            await page.select_option("#member", "liuql")
            await page.fill("#text", "@应急助手 帮助")
            await page.click("#send")
            reply = page.locator(".msg.bot .body", has_text="我是应急助手")
            await reply.wait_for(timeout=10_000)
            assert "@刘庆利" in await reply.inner_text()
            await page.fill("#text", "@应急助手 我是谁")
            await page.keyboard.press("Control+Enter")
            await page.locator(".msg.bot .body", has_text="危险化学品安全监管一处").wait_for(timeout=10_000)
            await page.get_by_text("私聊 应急助手").click()
            await page.select_option("#member", "shenlx")
            await page.fill("#text", "帮助")
            await page.click("#send")
            await page.locator(".msg.bot .body", has_text="我是应急助手").wait_for(timeout=10_000)
        finally:
            await browser.close()
