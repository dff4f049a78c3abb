"""Console login: one-time codes, sessions, CSRF, and the refusals that change nothing."""
from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import App
from bot.settings import Settings
from tests.console_client import console_client, csrf_of, log_in, new_code
from tests.harness import Harness


async def _post_code(client: TestClient, code: str) -> tuple[int, str]:
    page = await client.get("/console/login")
    resp = await client.post("/console/login", data={"code": code, "csrf_token": csrf_of(await page.text())},
                             allow_redirects=False)
    return resp.status, await resp.text()


async def test_login_in_private_chat_gives_a_link_and_code_that_work_once(h: Harness) -> None:
    await h.dm("shenlx", "登录")
    reply = h.expect_sent("控制台登录链接", chat="dm:shenlx").text
    assert "5分钟" in reply and "/console/login?t=" in reply
    code = reply.rsplit("登录码：", 1)[1][:6]
    async with console_client(h.app) as client:
        status, _ = await _post_code(client, code)
        assert status == 302
        home = await client.get("/console")
        assert "沈立新" in await home.text() and "管理员" in await home.text()
    async with console_client(h.app) as other:  # the same code again, from another browser
        status, text = await _post_code(other, code)
        assert status == 400 and "只能用一次" in text
        assert (await other.get("/console", allow_redirects=False)).status == 302


async def test_link_asks_before_logging_in(app: App) -> None:
    _, token = await new_code(app, "liuql")
    async with console_client(app) as client:
        page = await client.get(f"/console/login?t={token}")
        text = await page.text()
        assert "以 <strong>刘庆利" in text
        resp = await client.post("/console/login", data={"t": token, "csrf_token": csrf_of(text)}, allow_redirects=False)
        assert resp.status == 302
        assert "刘庆利" in await (await client.get("/console")).text()


async def test_reporter_and_group_chat_get_no_code(h: Harness) -> None:
    await h.dm("sp-bs", "登录")
    h.expect_sent("仅供管理员、值班员和处长使用", chat="dm:sp-bs")
    await h.say("g-sp", "sp-gly", "@应急助手 登录")
    h.expect_sent("请私聊我", chat="g-sp")
    assert not any("登录码：" in t for t in h.texts())


async def test_expired_code_is_refused(app: App) -> None:
    code, _ = await new_code(app, "shenlx")
    app.clock.advance(minutes=5, seconds=1)
    async with console_client(app) as client:
        status, text = await _post_code(client, code)
        assert status == 400 and "已过期" in text
        assert (await client.get("/console", allow_redirects=False)).status == 302


async def test_a_new_code_voids_the_old_one(app: App) -> None:
    first, _ = await new_code(app, "shenlx")
    await new_code(app, "shenlx")
    async with console_client(app) as client:
        status, text = await _post_code(client, first)
        assert status == 400 and "作废" in text


async def test_person_who_lost_the_role_cannot_use_the_code(app: App) -> None:
    code, _ = await new_code(app, "liuql")
    app.directory.people["liuql"].roles = ["reporter"]
    async with console_client(app) as client:
        status, text = await _post_code(client, code)
        assert status == 403 and "报送员" in text and "不能登录" in text


async def test_code_attempts_are_rate_limited(app: App) -> None:
    code, _ = await new_code(app, "shenlx")
    async with console_client(app) as client:
        for _ in range(5):
            status, _ = await _post_code(client, "000000" if code != "000000" else "111111")
            assert status == 400
        status, text = await _post_code(client, code)
        assert status == 429 and "5分钟后再试" in text
        app.clock.advance(minutes=5, seconds=1)
        code, _ = await new_code(app, "shenlx")
        status, _ = await _post_code(client, code)
        assert status == 302


async def test_tampered_cookie_is_refused(app: App) -> None:
    async with console_client(app) as client:
        await log_in(client, app, "shenlx")
        cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["yjzd_console"]
        value = cookie.value
        client.session.cookie_jar.update_cookies(
            {"yjzd_console": value[:-6] + ("A" if value[-6] != "A" else "B") + value[-5:]}, client.make_url("/"))
        resp = await client.get("/console", allow_redirects=False)
        assert resp.status == 302 and "why=invalid" in resp.headers["Location"]
        page = await client.get(resp.headers["Location"])
        assert "登录状态无效" in await page.text()


async def test_session_expires_after_twelve_hours_and_ends_on_logout(app: App) -> None:
    async with console_client(app) as client:
        csrf = await log_in(client, app, "shenlx")
        app.clock.advance(hours=11, minutes=59)
        assert (await client.get("/console", allow_redirects=False)).status == 200
        app.clock.advance(minutes=2)
        resp = await client.get("/console", allow_redirects=False)
        assert resp.status == 302 and "why=expired" in resp.headers["Location"]
    async with console_client(app) as client:
        csrf = await log_in(client, app, "shenlx")
        kept = client.session.cookie_jar.filter_cookies(client.make_url("/"))["yjzd_console"].value
        resp = await client.post("/console/logout", data={"csrf_token": csrf}, allow_redirects=False)
        assert resp.status == 302
        assert (await client.get("/console", allow_redirects=False)).status == 302
        client.session.cookie_jar.update_cookies({"yjzd_console": kept}, client.make_url("/"))  # a copy of the cookie taken before
        assert (await client.get("/console", allow_redirects=False)).status == 302


async def test_post_without_csrf_token_changes_nothing(app: App) -> None:
    async with console_client(app) as client:
        await log_in(client, app, "shenlx")
        resp = await client.post("/console/logout", data={}, allow_redirects=False)
        assert resp.status == 403 and "安全校验码" in await resp.text()
        resp = await client.post("/console/logout", data={"csrf_token": "forged"}, allow_redirects=False)
        assert resp.status == 403
        assert (await client.get("/console", allow_redirects=False)).status == 200  # still logged in


async def test_sim_and_downloads_need_a_login_outside_the_demo(settings: Settings, app: App) -> None:
    async with console_client(app) as client:  # the loopback simulator demo: open
        assert (await client.get("/sim")).status == 200
    app.settings.host = "0.0.0.0"
    async with console_client(app) as client:
        for path in ("/sim", "/reports/daily/2026-03-16.xlsx", "/files/x.xlsx", "/warnings/1/records.xlsx"):
            resp = await client.get(path, allow_redirects=False)
            assert resp.status == 302 and resp.headers["Location"].startswith("/console/login"), path
        resp = await client.post("/sim/api/send", json={"chat_id": "g-jl", "sender_id": "shenlx", "text": "帮助"})
        assert resp.status == 401 and "请先登录" in await resp.text()
        await log_in(client, app, "liuql")
        assert (await client.get("/sim")).status == 200


async def test_a_logged_in_person_made_a_reporter_sees_no_console(app: App) -> None:
    async with console_client(app) as client:
        await log_in(client, app, "liuql")
        app.directory.people["liuql"].roles = ["reporter"]
        resp = await client.get("/console", allow_redirects=False)
        assert resp.status == 403 and "您现在的角色（报送员）不能使用控制台" in await resp.text()
        assert "刘庆利" not in await resp.text()
