"""Drive the /sim page in a real headless Chromium (Debian's, through Playwright)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.settings import Settings
from tests.browser import CHROMIUM, launch, serve

pytestmark = pytest.mark.browser


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[str]:
    async with serve(settings, sim=True) as (_, url):
        yield url


BOUNDARY = "xx-boundary-xx"


def _multipart(filename: str) -> bytes:
    """Written by hand: client libraries percent-encode file names, an attacker's request does not."""
    parts = [f'Content-Disposition: form-data; name="{k}"\r\n\r\n{v}'
             for k, v in (("chat_id", "chuzhang"), ("sender_id", "liuql"), ("text", "附件"))]
    parts.append(f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\nnot a workbook")
    body = "".join(f"--{BOUNDARY}\r\n{p}\r\n" for p in parts) + f"--{BOUNDARY}--\r\n"
    return body.encode()



@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
async def test_a_crafted_file_name_stays_text_live_and_in_history(served: str) -> None:
    from playwright.async_api import async_playwright

    evil = "<img src=x onerror=window.__pwned=1>.xlsx"
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            page = await browser.new_page()
            await page.goto(served + "/sim")
            await page.get_by_text("处长工作群").click()
            await page.locator("#member option").first.wait_for(state="attached")
            # another member posts the file: it arrives over SSE
            async with aiohttp.ClientSession() as http, http.post(
                served + "/sim/api/send", data=_multipart(evil),
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            ) as r:
                assert r.status == 200
            live = page.locator(".msg .file", has_text="onerror")
            await live.wait_for(timeout=10_000)
            assert evil in await live.inner_text()
            await page.reload()
            await page.get_by_text("处长工作群").click()
            await page.locator(".msg .file", has_text="onerror").wait_for(timeout=10_000)
            assert await page.locator(".msg .file img").count() == 0
            assert await page.evaluate("window.__pwned") is None
        finally:
            await browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
async def test_pick_group_and_member_then_get_help(served: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch(pw)
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
