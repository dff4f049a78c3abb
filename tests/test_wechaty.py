"""The real bot against the real Wechaty PuppetServer (Node.js) with a scripted mock world."""
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import App, create_app
from bot.settings import Settings
from bot.transports.wechaty import gateway_transport
from models.warnings import Obligation
from tests.conftest import LONGTAN_REPORT
from tests.wechaty_world import Gateway, node_available, wait_for, wechat_config

pytestmark = [pytest.mark.wechaty, pytest.mark.skipif(not node_available() and not os.environ.get("CI"),
                                                      reason="node or tests/wechaty_server/node_modules missing")]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Path]]:
    cfg_path, world = wechat_config(tmp_path)
    gw = Gateway(world, tmp_path / "gateway.log")
    await gw.start()
    try:
        yield gw, cfg_path
    finally:
        await gw.kill()


@pytest.fixture
async def bot(gateway: tuple[Gateway, Path], tmp_path: Path) -> AsyncIterator[App]:
    gw, cfg_path = gateway
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", config_path=cfg_path,
                        var_dir=tmp_path / "var", scheduler=False)
    app = create_app(settings, transports=[lambda a: gateway_transport(a, "default", gw.endpoint, "test-token", False)])
    await app.start()
    await asyncio.wait_for(app.transports[("wechaty", "default")].wait_logged_in(), 20)
    try:
        yield app
    finally:
        await app.stop()


async def test_report_in_a_room_is_answered_with_a_mention(gateway: tuple[Gateway, Path], bot: App) -> None:
    gw, _ = gateway
    assert bot.transports[("wechaty", "default")].rooms["g-jl@chatroom"] == "吉林市应急工作群"
    await gw.say("ltq-bs", LONGTAN_REPORT, room="g-jl")
    reply = await gw.expect("已登记 吉林市龙潭区 3月13日", room="g-jl")
    assert reply["mentionIdList"] == ["wx-ltq-bs"] and reply["text"].startswith("@")
    await gw.say("ltq-bs", "@应急助手 帮助", room="g-jl", mentions=["wx-bot"])
    await gw.expect("我是应急助手", room="g-jl")
    await gw.say("ltq-bs", "我是谁")  # private chat
    await gw.expect("龙潭区应急管理局")
    await gw.say("liuql", "@应急助手 日报表 3月13日", room="chuzhang", mentions=["wx-bot"])
    await gw.expect("【3月13日日报表】", room="chuzhang")

    async def file_arrived() -> bool:
        return any(m.get("file") == "日报表_2026-03-13.xlsx" and m["size"] > 1000 for m in await gw.sent())

    await wait_for(file_arrived, 20, "the workbook did not reach the room as a file")


async def test_warning_reaches_the_room_with_mentions_and_acks_are_recorded(gateway: tuple[Gateway, Path], bot: App) -> None:
    gw, _ = gateway
    await gw.say("liwd", "@应急助手 叫应 红色 暴雨预警 范围：吉林市 时限5分钟", room="chuzhang", mentions=["wx-bot"])
    await gw.expect("【预览】叫应#1", room="chuzhang")
    await gw.say("liwd", "@应急助手 确认", room="chuzhang", mentions=["wx-bot"])
    warning = await gw.expect("【红色暴雨预警】叫应#1", room="g-jl")
    assert "wx-jl-yb" in warning["mentionIdList"] and len(warning["mentionIdList"]) == 11
    await gw.say("hd-yb", "收到，马上落实", room="g-jl")

    async def acked() -> bool:
        async with bot.sessions() as s:
            o = (await s.exec(select(Obligation).where(Obligation.person_id == "hd-yb"))).one()
        return o.state == "acked"

    await wait_for(acked, 10, "the acknowledgement was not recorded")


async def test_error_event_does_not_stop_the_flow(gateway: tuple[Gateway, Path], bot: App) -> None:
    gw, _ = gateway
    await gw.post("/error", {"data": "scripted failure"})
    await gw.say("shenlx", "@应急助手 帮助", room="anwei", mentions=["wx-bot"])
    await gw.expect("我是应急助手", room="anwei")
    assert bot.transports[("wechaty", "default")].status()["state"] == "logged_in"


async def test_gateway_restart_reconnects_and_delivers_what_was_queued(gateway: tuple[Gateway, Path], bot: App) -> None:
    gw, _ = gateway
    transport = bot.transports[("wechaty", "default")]
    await gw.kill()
    await wait_for(lambda: _async(transport.status()["state"] != "logged_in"), 10, "the drop was not noticed")
    from bot.events import InboundMessage

    await bot.feed(InboundMessage(transport="wechaty", chat_id="anwei@chatroom", sender_id="wx-shenlx",
                                  message_id="queued-1", text="@应急助手 帮助", received_at=bot.clock.now(),
                                  mentions=("wx-bot",), to_bot=True))
    await gw.start()
    await asyncio.wait_for(transport.wait_logged_in(), 40)
    assert transport.status()["reconnects"] >= 1
    await gw.expect("我是应急助手", room="anwei", within_s=40)
    await gw.expect("连接中断约")  # the admins are told once it is back


async def test_admin_binds_a_room_from_the_chat(gateway: tuple[Gateway, Path], bot: App) -> None:
    gw, _ = gateway
    await gw.say("ls-bs", "@应急助手 绑定本群 区域 四平市", room="g-sp", mentions=["wx-bot"])
    await gw.expect("只有管理员可以绑定群", room="g-sp")
    await gw.say("shenlx", "@应急助手 绑定本群 区域 四平市", room="g-sp", mentions=["wx-bot"])
    await gw.expect("已绑定：本群 = 四平市应急工作群", room="g-sp")
    assert bot.directory.group("wechaty", "g-sp@chatroom").id == "g-sp"


async def _async(value: bool) -> bool:
    return value
