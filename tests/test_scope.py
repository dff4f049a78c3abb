"""Scoped rights: a city's admin acts only inside the city; every refusal is in the audit log."""
from __future__ import annotations

from sqlmodel import col, select

from models.core import AuditLog
from models.reports import Hazard
from tests.harness import Harness

CHANGCHUN = (
    "长春市应急管理局3月13日监督检查情况\n【检查单位】长春市应急管理局危化处\n【受检单位】长春示范化工有限公司\n"
    "【检查地点】长春市绿园区\n【发现的问题隐患】罐区可燃气体报警器未按期检定\n【检查人员】王建国、李志强\n【整改情况】责令限期整改"
)


async def refusals(h: Harness) -> list[tuple[str, str]]:
    async with h.app.sessions() as s:
        rows = (await s.exec(select(AuditLog).order_by(col(AuditLog.id)))).all()
    return [(a.actor, a.action) for a in rows if a.action.startswith("denied:")]


async def test_city_admin_cannot_close_another_citys_hazard(h: Harness) -> None:
    assert await h.say("g-cc", "cc-bs", CHANGCHUN) == "report"
    async with h.app.sessions() as s:
        hz = (await s.exec(select(Hazard))).one()
    assert await h.say("g-jl", "jl-gly", f"@应急助手 销号 {hz.id} 已整改") == "close_denied"
    h.expect_sent("只有该单位报送员")
    assert ("jl-gly", "denied:hazards.close") in await refusals(h)
    assert await h.say("g-jl", "jl-gly", "@应急助手 销号 99999999999999999999 已整改") == "close_unknown"
    h.expect_sent("没有编号为 #999999999999…")
    assert await h.say("anwei", "shenlx", f"@应急助手 销号 {hz.id} 已更换报警器") == "closed"  # province admin


async def test_city_admin_cannot_bind_privileged_people_or_province_groups(h: Harness) -> None:
    assert await h.say("g-jl", "jl-gly", "@应急助手 绑定 @李卫东 值班员") == "bind_denied"
    h.expect_sent("不能绑定李卫东")
    assert await h.say("room-x", "jl-gly", "@应急助手 绑定本群 省安委办") == "bind_denied"
    assert await h.say("room-y", "jl-gly", "@应急助手 绑定本群 区域 长春市") == "bind_denied"
    h.expect_sent("您只能修改吉林市范围内的群")
    assert await h.say("room-z", "jl-gly", "@应急助手 绑定本群 区域 吉林市") == "bind_pending"  # its own city
    assert await h.say("room-z", "jl-gly", "@应急助手 确认") == "bind_group"
    assert await h.say("g-jl", "jl-bs", "@应急助手 绑定本群 区域 吉林市") == "bind_denied"  # not an admin
    d = h.app.directory
    assert d.group("sim", "room-z").region == "吉林市" and d.group("sim", "room-x") is None
    assert d.group("sim", "room-y") is None
    assert [a for a in await refusals(h)] == [("jl-gly", "denied:admin.bind_member"),
                                             ("jl-gly", "denied:admin.bind_room"),
                                             ("jl-gly", "denied:admin.bind_room"),
                                             ("jl-bs", "denied:admin.bind_room")]


async def test_reporters_and_city_admins_stay_in_their_region(h: Harness) -> None:
    assert await h.say("g-jl", "jl-bs", CHANGCHUN) == "report_denied"
    h.expect_sent("不能报送长春市的日报")
    assert await h.say("g-jl", "jl-gly", "@应急助手 提级管理 3轮") == "emergency_denied"
    assert await h.say("g-jl", "jl-gly", "@应急助手 提示函 长春市 隐患整改不到位") == "letter_denied"
    assert {a for _, a in await refusals(h)} == {"denied:reports.report", "denied:daily.raise_level",
                                                "denied:warnings.prompt_letter"}


async def test_only_reporters_report_and_a_pasted_report_replaces_nothing(h: Harness) -> None:
    """A division head pasting a county's report to discuss it, or a 责任人 forwarding one, is told so; the
    reporter's report and its open hazards stay (the normal chain, and the lane of a burst alike)."""
    from tests.test_report_lane import one_batch
    from tests.test_reports import LONGTAN

    assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"
    assert await h.say("chuzhang", "liuql", LONGTAN.replace("限期7日内整改", "已整改")) == "report_denied"
    h.expect_sent("您不是报送员，此条未作为日报登记")
    assert await one_batch(h.app, [h.event("g-jl", "ltq-yb", LONGTAN, message_id="fwd"),
                                   h.event("g-jl", "jl-bs", "今天下午的视频会几点开始", message_id="chat")]) \
        == ["report_denied", "ignored"]
    async with h.app.sessions() as s:
        hazards = (await s.exec(select(Hazard).order_by(col(Hazard.id)))).all()
    assert [hz.status for hz in hazards] == ["open", "open", "rectified"]
    assert ("liuql", "denied:reports.report") in await refusals(h)
