"""Issue 9 against the real Node gateway: the nine cases operators met (outage, red lane, two accounts,
TLS, nickname, 我是谁, /healthz after a logout, an inbound .xlsx, the reconnect time)."""
from __future__ import annotations

import asyncio
import base64
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from bot.app import App, create_app
from bot.clock import FakeClock
from bot.health import health
from bot.outbox import Outbox
from bot.settings import Settings
from bot.transports.wechaty import TlsOptions, gateway_transport, wechaty_factories
from models.core import OutboxEntry
from models.db import transaction
from tests.conftest import START
from tests.wechaty_world import Gateway, edit_world, node_available, wait_for, wechat_config

pytestmark = [pytest.mark.wechaty, pytest.mark.skipif(not node_available() and not os.environ.get("CI"),
                                                      reason="node or tests/wechaty_server/node_modules missing")]


async def start_bot(tmp: Path, cfg_path: Path, factories: list, clock: FakeClock | None = None) -> App:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp / 'bot.db'}", config_path=cfg_path,
                        var_dir=tmp / "var", scheduler=False)
    app = create_app(settings, clock=clock, transports=factories)
    await app.start()
    for t in app.transports.values():
        if hasattr(t, "wait_logged_in"):
            await asyncio.wait_for(t.wait_logged_in(), 30)
    return app


@pytest.fixture
async def world(tmp_path: Path) -> tuple[Path, Path]:
    return wechat_config(tmp_path)


@pytest.fixture
async def gw(world: tuple[Path, Path], tmp_path: Path) -> AsyncIterator[Gateway]:
    gateway = Gateway(world[1], tmp_path / "gateway.log")
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.kill()


def one(gateway: Gateway, account: str = "default", tls: bool | TlsOptions = False, token: str = "test-token") -> list:
    return [lambda a: gateway_transport(a, account, gateway.endpoint, token, tls)]


async def test_outage_loses_nothing_keeps_order_and_red_goes_first(gw: Gateway, world: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    clock = FakeClock(START)
    bot = await start_bot(tmp_path, world[0], one(gw), clock)
    try:
        transport = bot.transports[("wechaty", "default")]
        await gw.kill()
        await wait_for(lambda: _true(not transport.online), 10, "the drop was not noticed")
        async with transaction(bot.sessions) as session:
            outbox = Outbox(session, bot.data)
            for i in range(30):
                outbox.to_chat("wechaty", "g-jl@chatroom", f"回复{i:02d}")
            outbox.to_chat("wechaty", "g-jl@chatroom", "红色预警：立即转移", reason="warning", level="红色")
        for _ in range(10):  # 100 s of outage on the bot's clock while the sender keeps passing
            clock.advance(seconds=10)
            await bot.outbox_sender.deliver_due()
        async with bot.sessions() as s:
            rows = (await s.exec(select(OutboxEntry))).all()
        assert all(r.status == "pending" and r.attempts == 0 for r in rows)
        body = await health(bot)  # down longer than health.max_down_s: 503, with the backlog shown
        assert not body["ok"] and [b["waiting"] for b in body["backlog"] if b["account"] == "default"] == [31]
        await gw.start()
        await asyncio.wait_for(transport.wait_logged_in(), 40)
        bot.outbox_sender.wake()

        async def delivered() -> bool:
            return sum(1 for m in await gw.sent() if m["conversationId"] == "g-jl@chatroom") >= 20

        await wait_for(delivered, 40, "the queue was not delivered after the reconnect")
        texts = [m["text"] for m in await gw.sent() if m["conversationId"] == "g-jl@chatroom"]
        assert texts[0] == "红色预警：立即转移"  # the red lane first (20 tokens: the burst; the rest wait)
        replies = [t for t in texts if t.startswith("回复")]
        assert replies == sorted(set(replies)) == [f"回复{i:02d}" for i in range(len(replies))]
        clock.advance(minutes=2)  # more tokens: the rest goes out, still in order, none twice
        bot.outbox_sender.wake()

        async def all_sent() -> bool:
            return sum(1 for m in await gw.sent() if m["text"].startswith("回复")) == 30

        await wait_for(all_sent, 40, "not every reply arrived")
        replies = [m["text"] for m in await gw.sent() if m["text"].startswith("回复")]
        assert replies == [f"回复{i:02d}" for i in range(30)]
    finally:
        await bot.stop()


async def test_two_accounts_deliver_private_messages_through_the_one_that_has_the_contact(
        world: tuple[Path, Path], tmp_path: Path) -> None:
    cfg_path, world_path = world
    only_shen = edit_world(world_path, tmp_path / "w2.json", contacts={"wx-shenlx"})
    others = {c for c in ["wx-liwd", "wx-ltq-bs"]}
    first = edit_world(world_path, tmp_path / "w1.json", contacts=others)
    gw1, gw2 = Gateway(first, tmp_path / "g1.log"), Gateway(only_shen, tmp_path / "g2.log")
    await gw1.start()
    await gw2.start()
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    cfg["gateways"] = [  # the README's example: people keep the default account, which no gateway has
        {"account": "a1", "endpoint": gw1.endpoint, "token": "test-token", "groups": ["anwei", "chuzhang"]},
        {"account": "a2", "endpoint": gw2.endpoint, "token": "test-token", "groups": ["g-jl", "g-yb"]}]
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    bot = await start_bot(tmp_path, cfg_path, wechaty_factories({}))
    try:
        async with transaction(bot.sessions) as session:
            outbox = Outbox(session, bot.data)
            outbox.to_person(bot.directory.people["shenlx"], "给沈的私信")
            outbox.to_person(bot.directory.people["liwd"], "给李的私信")
        bot.outbox_sender.wake()
        await gw2.expect("给沈的私信")
        await gw1.expect("给李的私信")
        assert all("给李" not in m["text"] for m in await gw2.sent())
        body = await health(bot)
        assert "梁" not in "".join(body["unreachable"]) or body["unreachable"]  # people no account has are named
        assert bot.directory.people["hd-yb"].name in body["unreachable"]
    finally:
        await bot.stop()
        await gw1.kill()
        await gw2.kill()


async def test_tls_with_the_stock_gateway_certificate(world: tuple[Path, Path], tmp_path: Path) -> None:
    gateway = Gateway(world[1], tmp_path / "tls.log", tls=True, token="insecure_test-token")
    await gateway.start()
    try:
        # defaults as the Node client: the Wechaty root CA, the server name from the token's prefix
        bot = await start_bot(tmp_path, world[0], one(gateway, tls=TlsOptions(), token="insecure_test-token"))
        try:
            await gateway.say("shenlx", "@应急助手 帮助", room="anwei", mentions=["wx-bot"])
            await gateway.expect("我是应急助手", room="anwei")
        finally:
            await bot.stop()
    finally:
        await gateway.kill()


async def test_nickname_other_than_bot_name(world: tuple[Path, Path], tmp_path: Path) -> None:
    gateway = Gateway(edit_world(world[1], tmp_path / "nick.json", nickname="安全助手"), tmp_path / "nick.log")
    await gateway.start()
    bot = await start_bot(tmp_path, world[0], one(gateway))
    try:
        assert bot.transports[("wechaty", "default")].self_name == "安全助手"
        await gateway.say("shenlx", "@安全助手\u2005帮助", room="anwei", mentions=["wx-bot"])
        await gateway.expect("我是应急助手", room="anwei")
        assert not any("没听懂" in m["text"] for m in await gateway.sent())
    finally:
        await bot.stop()
        await gateway.kill()


async def test_whoami_for_an_unknown_sender_shows_the_id_and_what_to_type(gw: Gateway, world: tuple[Path, Path],
                                                                            tmp_path: Path) -> None:
    bot = await start_bot(tmp_path, world[0], one(gw))
    try:
        await gw.post("/say", {"from": "wx-stranger", "text": "我是谁"})
        reply = await gw.expect("wx-stranger")
        assert "python -m bot bind" in reply["text"] and "--wechaty wx-stranger" in reply["text"]
    finally:
        await bot.stop()


async def test_healthz_after_a_logout_and_what_it_lists(gw: Gateway, world: tuple[Path, Path], tmp_path: Path) -> None:
    bot = await start_bot(tmp_path, world[0], one(gw))
    try:
        body = await health(bot)
        assert body["ok"]
        wechat = next(s for s in body["transports"] if s["transport"] == "wechaty")
        rooms = {r["topic"]: r["bound"] for r in wechat["rooms"]}
        assert rooms["吉林市应急工作群"] is True and rooms["四平市应急工作群"] is False
        assert any(b["account"] == "default" for b in body["backlog"]) or body["backlog"] == []
        await gw.post("/logout", {})
        transport = bot.transports[("wechaty", "default")]
        await wait_for(lambda: _true(transport.state == "logged_out"), 10, "the logout was not noticed")
        body = await health(bot)
        assert not body["ok"]
        from aiohttp.test_utils import TestClient, TestServer

        from bot.web.app import create_web

        async with TestClient(TestServer(create_web(bot))) as client:
            resp = await client.get("/healthz")
            assert resp.status == 503
        await gw.post("/login", {})
        await asyncio.wait_for(transport.wait_logged_in(), 20)
        assert (await health(bot))["ok"]
    finally:
        await bot.stop()


async def test_an_inbound_xlsx_is_fetched_and_parsed(gw: Gateway, world: tuple[Path, Path], tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["桦甸市应急管理局3月13日监督检查情况"])
    ws.append(["检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况"])
    ws.append(["桦甸市应急管理局", "桦甸市金鼎矿业有限公司", "八道河子镇", "井下避灾路线标识不清", "张宏伟、李俊峰", "限期5日内整改"])
    data = io.BytesIO()
    wb.save(data)
    bot = await start_bot(tmp_path, world[0], one(gw))
    try:
        await gw.post("/file", {"from": "wx-hd-bs", "room": "g-jl@chatroom", "name": "桦甸日报.xlsx",
                                "base64": base64.b64encode(data.getvalue()).decode()})
        await gw.expect("已登记 桦甸市 3月13日", room="g-jl")
        await gw.post("/file", {"from": "wx-hd-bs", "room": "g-jl@chatroom", "name": "通知.pdf",
                                "base64": base64.b64encode(b"%PDF-1.4").decode()})
        await gw.expect("只读取Excel日报表", room="g-jl")  # another file in a bound group is not ignored
    finally:
        await bot.stop()


async def test_reconnect_within_a_few_seconds_of_the_gateway_coming_back(gw: Gateway, world: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    bot = await start_bot(tmp_path, world[0], one(gw))
    try:
        transport = bot.transports[("wechaty", "default")]
        await gw.kill()
        await wait_for(lambda: _true(not transport.online), 10, "the drop was not noticed")
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        await gw.start()
        back = loop.time()
        await asyncio.wait_for(transport.wait_logged_in(), 20)
        assert loop.time() - back <= 6.5  # backoff starts at 1 s and stays at 5 s or less in the first minute
    finally:
        await bot.stop()


async def _true(value: bool) -> bool:
    return value
