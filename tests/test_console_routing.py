"""The 路由 and 审计 pages over HTTP: diff, confirmation, undo, and the refusals that change nothing."""
from __future__ import annotations

import html
import re

from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot import routing
from models.core import AuditLog
from tests.console_client import console_client, log_in
from tests.harness import Harness

ENGLISH = re.compile(r"\b(admin|duty_officer|division_head|reporter|responsible|superior|anwei|chuzhang)\b")


def visible(page: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, name
    return html.unescape(m.group(1))


async def _confirm(client: TestClient, csrf: str, diff_page: str) -> int:
    data = {k: hidden(diff_page, k) for k in ("kind", "id", "changes", "fingerprint")}
    resp = await client.post("/console/routing/apply", data={**data, "csrf_token": csrf}, allow_redirects=False)
    return resp.status


async def _audit_count(h: Harness) -> int:
    async with h.app.sessions() as s:
        return len((await s.exec(select(AuditLog).where(AuditLog.action.in_([routing.CHANGE, routing.UNDO])))).all())


async def test_routing_page_is_chinese_and_previews_a_warning(h: Harness) -> None:
    async with console_client(h.app) as client:
        await log_in(client, h.app, "shenlx")
        page = await (await client.get("/console/routing?level=红色&region=吉林市")).text()
        text = visible(page)
        assert "一条红色预警发往吉林市，点名 11 人" in text and "吉林市应急工作群" in text
        assert "省安委办工作群" in text and "区域群" in text and "报送员" in text
        assert not ENGLISH.search(text), ENGLISH.search(text)


async def test_duty_officer_is_refused_the_routing_page(h: Harness) -> None:
    async with console_client(h.app) as client:
        await log_in(client, h.app, "liwd")
        resp = await client.get("/console/routing")
        assert resp.status == 403
        text = visible(await resp.text())
        assert "仅限管理员" in text and "值班员" in text and not ENGLISH.search(text)
        assert (await client.get("/console/audit")).status == 403


async def test_person_edit_diff_confirm_and_undo(h: Harness) -> None:
    d = h.app.directory
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "shenlx")
        form = {"csrf_token": csrf, "kind": "person", "id": "sp-bb", "unit": "sp-yjj", "roles": "responsible",
                "responsible": "四平市 一把手", "backup": "sp-bbb", "superior": "sp-yb"}
        resp = await client.post("/console/routing/preview", data=form)
        page = await resp.text()
        assert resp.status == 200
        text = visible(page)
        assert "四平市 包保责任人" in text and "四平市 一把手" in text and "确认修改" in text
        assert d.people["sp-bb"].responsible[0].title == "包保责任人"  # a preview changes nothing
        assert await _confirm(client, csrf, page) == 302
        assert d.people["sp-bb"].responsible[0].title == "一把手"
        async with h.app.sessions() as s:
            entry = (await s.exec(select(AuditLog).where(AuditLog.action == routing.CHANGE))).one()
        audit = visible(await (await client.get("/console/audit")).text())
        assert "修改路由" in audit and "沈立新" in audit and "一把手" in audit
        undo = await client.post(f"/console/audit/{entry.id}/undo", data={"csrf_token": csrf})
        page = await undo.text()
        assert undo.status == 200 and "确认撤销" in visible(page)
        resp = await client.post(f"/console/audit/{entry.id}/undo/apply",
                                 data={"csrf_token": csrf, "fingerprint": hidden(page, "fingerprint")},
                                 allow_redirects=False)
        assert resp.status == 302
        assert d.people["sp-bb"].responsible[0].title == "包保责任人"
        again = await client.post(f"/console/audit/{entry.id}/undo", data={"csrf_token": csrf})
        assert again.status == 409 and "已经撤销过" in visible(await again.text())


async def test_bind_an_unbound_room_from_the_console(h: Harness) -> None:
    await h.say("r-flood", "jl-bs", "今天的检查情况稍后报送")  # a room the bot sees but nobody bound
    d = h.app.directory
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "shenlx")
        page = visible(await (await client.get("/console/routing")).text())
        assert "尚未绑定的群聊" in page and "r-flood" in page
        resp = await client.post("/console/routing/preview", data={
            "csrf_token": csrf, "kind": "group", "id": "g-yb", "bind_transport": "sim", "bind_tid": "r-flood"})
        diff = await resp.text()
        assert "模拟器：延边州应急工作群的群聊" in visible(diff) and "模拟器：r-flood" in visible(diff)
        assert await _confirm(client, csrf, diff) == 302
        assert d.group("sim", "r-flood").id == "g-yb" and d.group("sim", "g-yb") is None
        assert "r-flood" not in visible(await (await client.get("/console/routing")).text()).split("尚未绑定的群聊")[1]


async def test_city_admin_cannot_edit_another_city_or_province_groups(h: Harness) -> None:
    d = h.app.directory
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "jl-gly")
        resp = await client.get("/console/routing/group/g-sp")
        assert resp.status == 403 and "您只能修改吉林市范围内的群" in visible(await resp.text())
        for data in (
            {"kind": "group", "id": "g-sp", "role": "region", "region": "四平市", "account": "a9"},
            {"kind": "group", "id": "g-jl", "role": "region", "region": "四平市", "account": "default"},
            {"kind": "group", "id": "anwei", "changes": '{"ids": {"sim": "g-jl"}}', "fingerprint": "x"},
            {"kind": "group", "id": "g-jl", "role": "anwei", "region": "吉林市", "account": "default"},
            {"kind": "person", "id": "sp-bb", "unit": "sp-yjj", "roles": "responsible", "responsible": "吉林市 一把手"},
        ):
            for url in ("/console/routing/preview", "/console/routing/apply"):
                resp = await client.post(url, data={**data, "csrf_token": csrf})
                assert resp.status == 403, (url, data)
                assert "只" in visible(await resp.text())
        assert d.groups["g-sp"].account == "default" and d.groups["g-jl"].region == "吉林市"
        assert d.group("sim", "g-jl").id == "g-jl" and d.people["sp-bb"].responsible[0].region == "四平市"
        assert await _audit_count(h) == 0
        ok = await client.post("/console/routing/preview", data={
            "csrf_token": csrf, "kind": "group", "id": "g-jl", "role": "region", "region": "吉林市", "account": "a2"})
        assert ok.status == 200 and await _confirm(client, csrf, await ok.text()) == 302
        assert d.groups["g-jl"].account == "a2"


async def test_stale_or_bad_edits_change_nothing(h: Harness) -> None:
    d = h.app.directory
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "shenlx")
        resp = await client.post("/console/routing/preview", data={
            "csrf_token": csrf, "kind": "group", "id": "g-jl", "role": "region", "region": "吉林市", "account": "a2"})
        page = await resp.text()
        d.groups["g-jl"].region = "长春市"  # someone else changed it meanwhile
        assert await _confirm(client, csrf, page) == 409
        d.groups["g-jl"].region = "吉林市"
        bad = await client.post("/console/routing/preview", data={
            "csrf_token": csrf, "kind": "person", "id": "sp-bb", "unit": "sp-yjj", "roles": "responsible",
            "responsible": "火星市 一把手"})
        assert bad.status == 400 and "不认识" in visible(await bad.text())
        same = await client.post("/console/routing/preview", data={
            "csrf_token": csrf, "kind": "group", "id": "g-jl", "role": "region", "region": "吉林市", "account": "default"})
        assert same.status == 400 and "没有任何改动" in visible(await same.text())
        no_csrf = await client.post("/console/routing/apply", data={"kind": "group", "id": "g-jl",
                                                                    "changes": '{"account": "a3"}'})
        assert no_csrf.status == 403
        assert d.groups["g-jl"].account == "default" and await _audit_count(h) == 0


async def test_rooms_the_gateway_lists_are_offered_for_binding(h: Harness) -> None:
    class Gateway:  # what the Wechaty transport keeps: room id → topic
        def __init__(self) -> None:
            self.rooms = {"5566@chatroom": "全省防汛叫应群", "7788@chatroom": "吉林市应急工作群（微信）"}

        async def stop(self) -> None:
            pass

    h.app.transports[("wechaty", "a1")] = Gateway()
    h.app.directory.bind_group("wechaty", "7788@chatroom", "g-jl")
    async with console_client(h.app) as client:
        await log_in(client, h.app, "shenlx")
        rooms = visible(await (await client.get("/console/routing")).text()).split("尚未绑定的群聊")[1]
        assert "微信 全省防汛叫应群" in rooms and "7788@chatroom" not in rooms


async def test_admin_cannot_remove_their_own_admin_role(h: Harness) -> None:
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "shenlx")
        resp = await client.post("/console/routing/preview", data={
            "csrf_token": csrf, "kind": "person", "id": "shenlx", "unit": "zhzx", "roles": "duty_officer"})
        assert resp.status == 403 and "不能取消自己的管理员角色" in visible(await resp.text())
        assert "admin" in h.app.directory.people["shenlx"].roles


async def test_audit_page_names_every_action_in_chinese(h: Harness) -> None:
    await h.say("anwei", "shenlx", "@应急助手 叫应 红色 暴雨预警 范围：吉林市 内容：请立即部署 时限5分钟")
    await h.say("anwei", "shenlx", "@应急助手 确认")
    await h.say("r-flood", "shenlx", "@应急助手 绑定本群 区域 延边州")
    await h.say("r-flood", "shenlx", "@应急助手 确认")
    async with console_client(h.app) as client:
        await log_in(client, h.app, "shenlx")
        text = visible(await (await client.get("/console/audit")).text())
        assert "叫应预览" in text and "发出叫应" in text and "点名11人" in text
        assert "在聊天中绑定本群为“延边州应急工作群”" in text and "沈立新（省应急厅指挥中心）" in text
        assert not ENGLISH.search(text) and "warning_" not in text and "routing_" not in text


async def test_lists_filter_by_city_and_name_and_preview_the_whole_province(h: Harness) -> None:
    async with console_client(h.app) as client:
        await log_in(client, h.app, "jl-gly")  # a city admin sees their city first
        text = visible(await (await client.get("/console/routing")).text())
        people = text.split("人员")[-1]
        assert "周春雷" in people and "吴玉兰" not in people and "四平市应急工作群" not in text
        text = visible(await (await client.get("/console/routing?city=全部&q=吴玉兰")).text())
        assert "吴玉兰" in text.split("人员")[-1] and "无权修改" in text.split("人员")[-1]
        text = visible(await (await client.get("/console/routing?region=全省&level=橙色")).text())
        assert "一条橙色预警发往全省" in text and "延边州应急工作群" in text


async def test_city_admin_cannot_hand_out_privileged_roles(h: Harness) -> None:
    async with console_client(h.app) as client:
        csrf = await log_in(client, h.app, "jl-gly")
        resp = await client.post("/console/routing/preview", data=[
            ("csrf_token", csrf), ("kind", "person"), ("id", "jl-bs"), ("unit", "jl-yjj"), ("roles", "reporter"),
            ("roles", "duty_officer")])
        assert resp.status == 403 and "只有省级管理员可以任免" in visible(await resp.text())
        assert h.app.directory.people["jl-bs"].roles == ["reporter"]
