"""Routing from the chat: 绑定本群 names what it would replace and waits for 确认; one store with the console."""
from __future__ import annotations

import pytest
from sqlmodel import select

from bot import routing
from bot.app import create_app
from bot.clock import FakeClock
from bot.settings import Settings
from models.core import AuditLog
from models.db import transaction
from tests.harness import Harness


async def test_rebinding_a_held_group_asks_first_and_survives_a_restart(h: Harness, settings: Settings,
                                                                        clock: FakeClock) -> None:
    d = h.app.directory
    await h.say("r-flood", "shenlx", "@应急助手 绑定本群 区域 延边州")
    reply = h.expect_sent("确认", chat="r-flood").text
    assert "延边州应急工作群" in reply and "另一个群聊" in reply and "取消" in reply
    assert d.group("sim", "g-yb").id == "g-yb" and d.group("sim", "r-flood") is None  # nothing changed yet

    await h.say("r-flood", "shenlx", "@应急助手 确认")
    h.expect_sent("已绑定：本群 = 延边州应急工作群", chat="r-flood")
    assert d.group("sim", "r-flood").id == "g-yb" and d.group("sim", "g-yb") is None
    async with h.app.sessions() as s:
        entry = (await s.exec(select(AuditLog).where(AuditLog.action == routing.CHANGE))).one()
    assert entry.actor == "shenlx" and entry.detail["edits"][0]["before"]["ids"]["sim"] == "g-yb"

    again = create_app(settings, clock=clock)  # a restart keeps the edit
    await again.prepare()
    try:
        assert again.directory.group("sim", "r-flood").id == "g-yb" and again.directory.group("sim", "g-yb") is None
    finally:
        await again.stop()


async def test_room_already_bound_names_its_current_group(h: Harness) -> None:
    await h.say("g-jl", "shenlx", "@应急助手 绑定本群 区域 延边州")
    reply = h.expect_sent("确认", chat="g-jl").text
    assert "本群现在是“吉林市应急工作群”" in reply and "延边州应急工作群" in reply
    await h.say("g-jl", "shenlx", "@应急助手 取消")
    h.expect_sent("已放弃绑定", chat="g-jl")
    assert h.app.directory.group("sim", "g-jl").id == "g-jl"
    await h.say("g-jl", "shenlx", "@应急助手 确认")  # nothing pending any more: not a binding
    assert h.app.directory.group("sim", "g-jl").id == "g-jl"


async def test_pending_binding_expires(h: Harness) -> None:
    await h.say("r-flood", "shenlx", "@应急助手 绑定本群 区域 延边州")
    h.clock.advance(minutes=11)
    await h.say("r-flood", "shenlx", "@应急助手 确认")
    assert h.app.directory.group("sim", "r-flood") is None


async def test_city_admin_cannot_take_province_groups_or_other_cities(h: Harness) -> None:
    await h.say("r-flood", "jl-gly", "@应急助手 绑定本群 省安委办")
    h.expect_sent("只有省级管理员", chat="r-flood")
    assert await h.say("anwei", "jl-gly", "@应急助手 绑定本群 省安委办") == "bind_denied"  # bound already: still not theirs
    h.expect_sent("只有省级管理员", chat="anwei")
    assert await h.say("anwei", "shenlx", "@应急助手 绑定本群 省安委办") == "bind_same"
    assert "（省安委办工作群）" not in h.expect_sent("本群已经是省安委办工作群，无需重复绑定", chat="anwei").text
    await h.say("g-jl", "jl-gly", "@应急助手 绑定本群 处长")
    h.expect_sent("只有省级管理员", chat="g-jl")
    await h.say("r-flood", "jl-gly", "@应急助手 绑定本群 区域 四平市")
    h.expect_sent("您只能修改吉林市范围内的群", chat="r-flood")
    await h.say("r-flood", "jl-gly", "@应急助手 确认")
    d = h.app.directory
    assert d.group("sim", "anwei").id == "anwei" and d.group("sim", "r-flood") is None
    async with h.app.sessions() as s:
        assert not (await s.exec(select(AuditLog).where(AuditLog.action == routing.CHANGE))).all()


async def test_city_admin_binds_inside_their_city_without_a_question(h: Harness) -> None:
    d = h.app.directory
    d.set_ids("group", "g-jl", {})  # the city's group has no room yet
    await h.say("r-jl", "jl-gly", "@应急助手 绑定本群 区域 吉林市")
    h.expect_sent("已绑定：本群 = 吉林市应急工作群", chat="r-jl")
    assert d.group("sim", "r-jl").id == "g-jl"


async def test_confirm_without_a_pending_binding_still_confirms_a_warning(h: Harness) -> None:
    await h.say("anwei", "shenlx", "@应急助手 确认")
    h.expect_sent("没有待确认的叫应", chat="anwei")


async def test_undo_puts_both_rooms_back(h: Harness) -> None:
    d = h.app.directory
    await h.say("r-flood", "shenlx", "@应急助手 绑定本群 区域 延边州")
    await h.say("r-flood", "shenlx", "@应急助手 确认")
    async with transaction(h.app.sessions) as s:
        entry = (await s.exec(select(AuditLog).where(AuditLog.action == routing.CHANGE))).one()
        edits = await routing.undo_plan(s, d, entry.id)
        assert isinstance(edits, list)
        await routing.commit(s, d, edits, "shenlx", h.clock.now(), "撤销", undo_of=entry.id)
    assert d.group("sim", "g-yb").id == "g-yb" and d.group("sim", "r-flood") is None
    async with transaction(h.app.sessions) as s:
        assert await routing.undo_plan(s, d, entry.id) == "这条修改已经撤销过了。"
        assert not (await s.exec(select(routing.RoutingOverride))).all()  # back to the seed: no overrides left


async def test_check_config_reports_the_database_edits_too(h: Harness, settings: Settings,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from bot.commands import check_config

    await h.say("r-flood", "shenlx", "@应急助手 绑定本群 区域 延边州")
    await h.say("r-flood", "shenlx", "@应急助手 确认")
    code = await asyncio.to_thread(check_config, settings.config_path, settings.database_url)
    out = capsys.readouterr().out
    assert code == 0
    assert "数据库：1 项路由修改覆盖配置文件" in out and "覆盖: 群：延边州应急工作群（绑定的聊天号）" in out


async def test_a_rolled_back_change_never_reaches_the_running_bot(h: Harness) -> None:
    d = h.app.directory
    with pytest.raises(RuntimeError):
        async with transaction(h.app.sessions) as s:
            edits = routing.plan(d, "group", "g-jl", {"account": "a9"})
            await routing.commit(s, d, edits, "shenlx", h.clock.now(), "test")
            raise RuntimeError("the unit of work fails after the edit")
    assert d.groups["g-jl"].account == "default"


async def test_binding_a_member_to_an_account_someone_holds_asks_first(h: Harness) -> None:
    import dataclasses

    d = h.app.directory

    async def say_bind(text: str, mention: str) -> None:
        event = dataclasses.replace(h.event("g-sp", "shenlx", text), mentions=(mention,))
        await h.app.feed(event)
        await h.drain()

    await say_bind("@应急助手 绑定 @孙雪松 四平市应急局", "sp-bbb")  # 胡国庆's account
    reply = h.expect_sent("确认", chat="g-sp").text
    assert "这个微信号现在绑定的是胡国庆" in reply and "孙雪松现在绑定的是另一个微信号" in reply
    assert d.person("sim", "sp-bbb").id == "sp-bbb"
    await h.say("g-sp", "shenlx", "@应急助手 确认")
    h.expect_sent("已绑定：孙雪松（四平市应急管理局）", chat="g-sp")
    assert d.person("sim", "sp-bbb").id == "sp-bb" and d.person("sim", "sp-bb") is None
    assert "sim" not in d.people["sp-bbb"].ids
