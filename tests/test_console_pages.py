"""The console's day pages over HTTP with a logged-in session: 今日, 叫应, 隐患, 统计, 系统 and the demo
clock. Refusals change nothing; pages show names, never internal ids or English role names."""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import col, func, select

from bot.app import create_app
from bot.clock import local
from bot.settings import Settings
from models.core import OutboxEntry
from models.warnings import Warning
from tests.console_client import console_client, log_in
from tests.daily_helpers import simple_report
from tests.harness import Harness
from tests.test_warnings import JILIN, issue

FRIDAY = date(2026, 3, 13)
INTERNAL = re.compile(r"\b(?:ltq-yjj|ltq-bs|jl-yb|liwd|duty_officer|division_head|admin|reporter|anwei|chuzhang)\b")


def visible(html: str) -> str:
    """The text a reader sees: tags, attributes, scripts and styles removed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


async def test_today_page_and_a_units_report(h: Harness) -> None:
    await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", FRIDAY))
    async with console_client(h.app) as client:
        await log_in(client, h.app, "liwd")
        page = await (await client.get("/console")).text()
        assert "3月13日日报" in page and "距截止" in page and "吉林市" in page and "省本级" in page
        assert "龙潭区应急管理局" in page and "按时" in page and "未报" in page
        assert not INTERNAL.search(visible(page))
        detail = await (await client.get("/console/today/1/ltq-yjj")).text()
        assert "报送原文" in detail and "解析结果" in detail and "示范化工有限公司" in detail
        assert "储罐区可燃气体报警器未检定" in detail and "魏德胜" in detail
        missing = await (await client.get("/console/today/1/ls-yjj")).text()
        assert "尚未收到该单位的日报" in missing


async def test_board_filter_urge_and_close(h: Harness) -> None:
    wid = await issue(h)
    await h.say("g-jl", JILIN[0], "收到，已启动Ⅳ级响应")
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "liwd")
        page = await (await client.get(f"/console/warnings/{wid}")).text()
        assert "已回应1/11" in re.sub(r"\s+", "", visible(page))
        assert "已启动Ⅳ级响应" in page and f"/warnings/{wid}/records.xlsx" in page
        assert not INTERNAL.search(visible(page))
        silent = await (await client.get(f"/console/warnings/{wid}?silent=1")).text()
        assert h.app.directory.people[JILIN[0]].name not in silent
        assert all(h.app.directory.people[p].name in silent for p in JILIN[1:])
        fragment = await (await client.get(f"/console/warnings/{wid}", headers={"HX-Request": "true"})).text()
        assert "<html" not in fragment and "<table" in fragment
        h.new()
        resp = await client.post(f"/console/warnings/{wid}/urge", data={"csrf_token": csrf}, allow_redirects=False)
        assert resp.status == 303
        await h.drain()
        assert any(m.chat_id == "g-jl" and "【催叫】" not in m.text and len(m.mentions) == 10 for m in h.new())
        resp = await client.post(f"/console/warnings/{wid}/close", data={"csrf_token": csrf}, allow_redirects=False)
        assert resp.status == 303
        await h.drain()
        h.expect_sent("【总结】", chat="g-jl")
        again = await client.post(f"/console/warnings/{wid}/close", data={"csrf_token": csrf})
        assert again.status == 409 and "不在进行中" in await again.text()


async def test_only_duty_officers_urge(h: Harness) -> None:
    wid = await issue(h)
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "liuql")  # a division head
        page = await (await client.get(f"/console/warnings/{wid}")).text()
        assert "立即催叫" not in page
        h.new()
        resp = await client.post(f"/console/warnings/{wid}/urge", data={"csrf_token": csrf})
        assert resp.status == 403 and "值班员" in await resp.text()
        await h.drain()
        assert not h.new()


async def test_issue_from_the_form_with_preview_and_confirmation(h: Harness) -> None:
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "liwd")
        bad = await client.post("/console/warnings/preview", data={
            "csrf_token": csrf, "level": "红色", "type": "暴雨预警", "regions_text": "火星市", "content": "", "deadline": "5"})
        assert bad.status == 400 and "未知地区：火星市" in await bad.text()
        resp = await client.post("/console/warnings/preview", data={
            "csrf_token": csrf, "level": "红色", "type": "暴雨预警", "regions": "吉林市", "content": "今夜大暴雨",
            "deadline": "5"})
        preview = await resp.text()
        assert resp.status == 200 and "【预览】叫应#1 红色暴雨预警" in preview and "吉林市应急工作群（11人）" in preview
        assert all(h.app.directory.people[p].name in preview for p in JILIN)
        await h.drain()
        assert not [m for m in h.new() if m.chat_id == "g-jl"]  # nothing sent before 确认
        resp = await client.post("/console/warnings/1/confirm", data={"csrf_token": csrf}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/console/warnings/1"
        await h.drain()
        h.expect_sent("今夜大暴雨", chat="g-jl")
        twice = await client.post("/console/warnings/1/confirm", data={"csrf_token": csrf})
        assert twice.status == 409
    async with h.app.sessions() as s:
        assert (await s.get(Warning, 1)).issued_by == "liwd"


async def test_hazards_stats_and_system(h: Harness) -> None:
    await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", FRIDAY))
    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", FRIDAY, hazard="安全出口锁闭"))
    await h.fail_a_reply("g-jl", "jl-bs")  # the platform refuses the reply for good: the row fails
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "liwd")
        page = await (await client.get("/console/hazards?region=吉林市")).text()
        assert "储罐区可燃气体报警器未检定" in page and "安全出口锁闭" not in page
        hid = re.search(r'hx-get="/console/hazards/(\d+)"', page).group(1)  # type: ignore[union-attr]
        trail = await (await client.get(f"/console/hazards/{hid}")).text()
        assert "报送发现" in trail and "魏德胜" in trail
        overdue = await (await client.get("/console/hazards?overdue=1")).text()
        assert "没有符合条件的隐患" in overdue
        stats = await (await client.get("/console/stats")).text()
        assert "echarts" in stats and "报送率" in stats and "危化品" in stats
        system = await (await client.get("/console/system")).text()
        assert "模拟器" in system and "发送失败" in system and "吉林市应急工作群" in system
        assert not INTERNAL.search(visible(system))
        fid = re.search(r'/console/system/retry/(\d+)', system).group(1)  # type: ignore[union-attr]
        resp = await client.post(f"/console/system/retry/{fid}", data={"csrf_token": csrf}, allow_redirects=False)
        assert resp.status == 303
        await h.drain()
        h.expect_sent("我是应急助手", chat="g-jl")
    async with h.app.sessions() as s:
        assert (await s.exec(select(func.count()).where(col(OutboxEntry.status) == "failed"))).one() == 0


async def test_demo_clock_on_console_and_sim(h: Harness) -> None:
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "liwd")
        page = await (await client.get("/console")).text()
        assert "演示时钟" in page and "跳到14:00" in page
        resp = await client.post("/console/clock", data={"csrf_token": csrf, "to": "14:00"}, allow_redirects=False)
        assert resp.status == 303 and h.clock.now() == local(h.clock.now().date(), 14)
        await h.drain()
        h.expect_sent("未报送3月13日日报", chat="g-jl")
        state = await (await client.get("/sim/api/clock")).json()
        assert state["enabled"] and state["jumps"] == ["14:00", "15:00", "16:30", "16:40", "+5"]
        moved = await (await client.post("/sim/api/clock", json={"to": "+5"})).json()
        assert moved["now"].startswith("2026-03-16T14:05")


class FakeWechat:
    name = "wechaty"
    account = "a1"

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]:
        return {"transport": "wechaty", "account": "a1", "state": "logged_in"}

    async def events(self) -> Any:
        if False:
            yield

    async def send(self, msg: Any) -> str:
        return "x"


async def test_no_clock_control_with_a_real_transport(settings: Settings, clock: Any) -> None:
    app = create_app(settings, clock=clock, transports=[lambda a: FakeWechat()])
    await app.start(background=False)
    try:
        async with console_client(app) as client:
            csrf = await log_in(client, app, "liwd")
            page = await (await client.get("/console")).text()
            assert "演示时钟" not in page
            before = clock.now()
            resp = await client.post("/console/clock", data={"csrf_token": csrf, "to": "16:30"})
            assert resp.status == 409 and clock.now() == before
            assert not (await (await client.get("/sim/api/clock")).json())["enabled"]
    finally:
        await app.stop()
