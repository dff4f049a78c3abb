"""Issue 11: 叫应 and the daily cycle tell one truth. One test per numbered item, on the fake clock."""
from __future__ import annotations

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import create_app
from bot.clock import FakeClock
from bot.settings import Settings
from handlers.warnings.state import board_rows, obligations
from models.warnings import Warning
from tests.conftest import both_backends
from tests.harness import Harness
from tests.test_warnings import JILIN, issue

SILENT = ["jh-yb", "jh-bb"]


async def _outputs(h: Harness, wid: int) -> dict[str, dict[str, str]]:
    """The state of each silent person as the status reply, the workbook and the board show it."""
    names = {pid: h.app.directory.people[pid].name for pid in SILENT}
    await h.say("chuzhang", "liwd", f"@应急助手 叫应情况 {wid}")
    status = h.expect_sent(f"叫应#{wid} 红色暴雨预警（发出").text
    await h.say("chuzhang", "liwd", f"@应急助手 叫应记录 {wid}")
    sheet = load_workbook(h.expect_sent("全部呼叫与应答记录见附件").attachment)["回应情况"]
    excel = {r[0]: r[3] for r in sheet.iter_rows(min_row=2, values_only=True)}
    async with h.app.sessions() as s:
        w = await s.get(Warning, wid)
        board = {r.name: r.state_text for r in board_rows(h.app, w, await obligations(s, wid))}
    out: dict[str, dict[str, str]] = {"status": {}, "excel": {}, "board": {}}
    for pid, name in names.items():
        out["status"][pid] = next(st for st in ("未叫醒", "催叫中", "待回应", "已解除") if f"{name}（{st}）" in status)
        out["excel"][pid] = excel[name]
        out["board"][pid] = board[name]
    out["status_line"] = {"line": status.splitlines()[1]}
    return out


@both_backends
async def test_1_unwoken_is_the_same_in_all_five_outputs(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN:
        if pid not in SILENT:
            await h.say("g-jl", pid, "收到")
    await h.tick(minutes=5, seconds=1)  # the 未叫醒名单 goes out at +5
    names = {h.app.directory.people[p].name for p in SILENT}
    listed = h.expect_sent("【未叫醒名单】", chat="dm:liwd").text
    assert "未叫醒2人" in listed and all(n in listed for n in names)
    before = await _outputs(h, wid)
    assert before["status_line"]["line"] == "点名11人，已回应9人，未叫醒2人"
    for what in ("status", "excel", "board"):
        assert before[what] == {p: "未叫醒" for p in SILENT}, what
    await h.tick(minutes=6)
    await h.tick(minutes=6)  # the chase ends (+16): the closing list counts the same people
    assert "催叫结束，未叫醒2人，名单同上" in h.expect_sent("【未叫醒】叫应#1", chat="dm:liwd").text
    same_moment = h.expect_sent("【未叫醒名单】叫应#1 红色暴雨预警已过17分钟", chat="dm:liwd").text  # the list it refers to
    assert "未叫醒2人" in same_moment and all(n in same_moment for n in names)
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    summary = h.expect_sent("【总结】", chat="chuzhang").text
    assert "点名11人，已回应9人，未叫醒2人" in summary and all(n in summary for n in names)
    after = await _outputs(h, wid)
    assert after["status_line"]["line"] == "点名11人，已回应9人，未叫醒2人"
    for what in ("status", "excel", "board"):
        assert after[what] == {p: "未叫醒" for p in SILENT}, what


async def test_1_closed_before_the_deadline_is_closed_everywhere(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN:
        if pid not in SILENT:
            await h.say("g-jl", pid, "收到")
    await h.tick(minutes=3, seconds=1)  # re-mentioned and messaged privately: 催叫中
    during = await _outputs(h, wid)
    for what in ("status", "excel", "board"):
        assert during[what] == {p: "催叫中" for p in SILENT}, what
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    summary = h.expect_sent("【总结】", chat="chuzhang").text
    assert "点名11人，已回应9人，未叫醒0人，解除时未回应2人" in summary
    after = await _outputs(h, wid)
    for what in ("status", "excel", "board"):
        assert after[what] == {p: "已解除" for p in SILENT}, what
    h.new()
    calls = len(h.app.data["call_provider"].calls)
    await h.tick(minutes=30)
    assert h.new() == [] and len(h.app.data["call_provider"].calls) == calls  # nothing runs after 解除


async def test_1_late_ack_after_unwoken_is_recorded_late(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN:
        if pid not in SILENT:
            await h.say("g-jl", pid, "收到")
    await h.tick(minutes=5, seconds=1)
    await h.say("g-jl", "jh-yb", "收到")
    async with h.app.sessions() as s:
        w = await s.get(Warning, wid)
        rows = {r.person_id: r for r in board_rows(h.app, w, await obligations(s, wid))}
        from models.warnings import CallRecord

        acks = (await s.exec(select(CallRecord).where(CallRecord.person_id == "jh-yb", CallRecord.channel == "ack"))).all()
    assert rows["jh-yb"].state == "已回应" and rows["jh-yb"].late and rows["jh-yb"].state_text == "已回应（超时）"
    assert len(acks) == 1 and acks[0].text.startswith("（超时回应")
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    assert "已回应10人（其中超时回应1人），未叫醒1人" in h.expect_sent("【总结】", chat="chuzhang").text


async def test_3_rates_round_half_up(h: Harness) -> None:
    from bot.text import percent

    assert [percent(2, 3), percent(1, 3), percent(1, 8), percent(5, 8), percent(0, 0)] == ["67%", "33%", "13%", "63%", "0%"]
    wid = await issue(h)
    await h.say("g-jl", "jl-yb", "收到")
    await h.say("g-jl", "jl-bb", "收到")  # 2 of the 3 named for 吉林市 itself
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    summary = h.expect_sent("【总结】", chat="chuzhang").text
    assert "· 吉林市：回应率67%（2/3），5分钟内2人（67%）" in summary and "回应率18%（2/11）" in summary


def _letter_text(path: str) -> str:
    from docx import Document

    return "\n".join(p.text for p in Document(path).paragraphs)


async def test_4_and_5_letters_have_their_own_series_and_match_their_subject(h: Harness) -> None:
    from datetime import date, datetime

    from bot.clock import TZ
    from tests.daily_helpers import simple_report

    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", date(2026, 3, 12), enterprise="梨树县宏达木业有限公司",
                                              hazard="除尘系统未设置泄爆装置，粉尘涉爆"))
    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", date(2026, 3, 13)))  # a 危化品 hazard, newer
    await issue(h)
    await issue(h, "@应急助手 叫应 橙色 大风预警 范围：四平市 内容：大风 时限10分钟")  # two 叫应 use ids 1 and 2
    await h.dm("liuql", "提示函 梨树县 危化品隐患整改不到位")
    h.expect_sent("提示函第1号已发梨树县（1项）", chat="dm:liuql")
    text = _letter_text(h.expect_sent("【提示函】", chat="g-sp").attachment)
    assert "第1号" in text and "1. 示范化工有限公司：储罐区可燃气体报警器未检定" in text
    assert "粉尘" not in text and "2. " not in text
    await h.dm("liuql", "提示函 梨树县 隐患整改不到位")  # no domain: every open hazard, oldest first, then 叫应
    h.expect_sent("提示函第2号已发梨树县（", chat="dm:liuql")
    text = _letter_text(h.expect_sent("【提示函】", chat="g-sp").attachment)
    assert text.index("1. 梨树县宏达木业有限公司：除尘系统") < text.index("2. 示范化工有限公司") < text.index("未回应")
    await h.dm("liuql", "提示函 梨树县 烟花爆竹安全管理不到位")
    h.expect_sent("提示函第3号已发梨树县（梨树县暂无烟花爆竹领域未整改隐患）", chat="dm:liuql")
    text = _letter_text(h.expect_sent("【提示函】", chat="g-sp").attachment)
    assert "梨树县暂无烟花爆竹领域未整改隐患。" in text and "1. " not in text
    h.clock.set(datetime(2027, 1, 5, 9, 0, tzinfo=TZ))
    await h.dm("liuql", "提示函 梨树县 危化品隐患整改不到位")
    h.expect_sent("提示函第1号已发梨树县", chat="dm:liuql")  # a new year, a new series


async def test_6_a_unit_is_in_one_missing_list_only(h: Harness) -> None:
    from datetime import date

    from tests.daily_helpers import post_all

    await post_all(h, date(2026, 3, 13), skip={"sheng", "ls-yjj"})
    await h.say("chuzhang", "liuql", "@应急助手 日报表 3月13日")
    msg = h.expect_sent("【3月13日日报表】")
    assert msg.text.count("省应急厅，") + msg.text.count("省应急厅；") + msg.text.count("省应急厅\n") <= 1
    lines = msg.text.splitlines()
    prov = next(line for line in lines if line.startswith("附表1"))
    local = next(line for line in lines if line.startswith("市县未报送"))
    assert "未报送：省应急厅" in prov and local == "市县未报送（1个）：梨树县应急管理局"
    sheet = load_workbook(msg.attachment)["汇总"]
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c]
    assert sum(c.count("省应急厅") for c in cells if "未报送" not in c) == 1  # once, in the one list


async def test_7_today_missing_names_its_round_and_what_is_in(h: Harness) -> None:
    from datetime import date

    from bot.clock import local
    from tests.daily_helpers import post_all, simple_report

    n = await post_all(h, date(2026, 3, 13), skip={"ls-yjj", "tdq-yjj"})  # on Monday morning
    h.clock.set(local(date(2026, 3, 16), 11, 50))
    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", date(2026, 3, 16)))  # today's own inspections
    h.clock.set(local(date(2026, 3, 16), 12, 0))
    await h.say("chuzhang", "liuql", "@应急助手 今日未报")
    text = h.expect_sent("本轮催报").text
    assert "本轮催报：3月13日检查情况日报（3月16日15:00截止）。" in text
    assert "未报2个：梨树县应急管理局、铁东区应急管理局" in text
    assert f"今日已收到日报{n + 1}份，计入本轮{n}份；梨树县应急管理局报的是3月16日检查情况，不计入本轮。" in text


async def test_9_stats_with_no_reports_say_nothing_was_reported(h: Harness) -> None:
    await h.say("chuzhang", "liuql", "@应急助手 统计 上周")
    text = h.expect_sent("全省上周（3月9日—3月15日）：").text
    assert "没有收到任何日报" in text and "未发现问题隐患" not in text.replace("不代表未发现问题隐患", "")


async def _help(h: Harness, person: str, args: str = " 全部") -> str:
    await h.dm(person, "帮助" + args)
    return h.expect_sent("可用：", chat=f"dm:{person}").text


async def test_8_help_is_the_command_table_filtered_by_role(h: Harness) -> None:
    import re

    from bot.dispatch.filters import Command

    duty, head, admin, reporter = [await _help(h, p) for p in ("liwd", "liuql", "shenlx", "ls-bs")]
    for word in ("叫应 级别", "解除 编号", "叫应记录", "提级管理", "提示函", "叫应情况"):
        assert word in duty, word
    assert "绑定" not in duty and "点评" not in duty and "报日报" not in duty
    for word in ("提示函", "点评 领域", "发布点评", "销号"):
        assert word in head, word
    assert "叫应 级别" not in head and "叫应记录" not in head and "绑定" not in head
    for word in ("绑定本群", "绑定 @张三", "提级管理", "叫应记录", "提示函", "解除 编号", "点评 领域"):
        assert word in admin, word
    assert "报日报" in reporter and "销号" in reporter and "叫应 级别" not in reporter and "提示函" not in reporter
    assert "李卫东（值班员）" in duty and "沈立新（管理员、值班员）" in admin
    for text in (duty, head, admin, reporter):
        assert not re.search(r"admin|duty_officer|division_head|reporter|responsible", text)
    # every row of the table is in the help of someone allowed to use it, and nowhere else
    assert h.app.dispatcher is not None
    for router in h.app.dispatcher.routers:
        for spec in router.handlers:
            for f in spec.filters:
                if isinstance(f, Command) and f.usage:
                    for pid, text in (("liwd", duty), ("liuql", head), ("shenlx", admin), ("ls-bs", reporter)):
                        assert (f.usage in text) == f.allows(h.app.directory.people[pid]), (f.usage, pid)
    short = await _help(h, "shenlx", "")
    assert len(short.splitlines()) <= 10
    for word in ("提示函", "点评", "绑定", "提级管理", "解除", "叫应记录"):
        assert word in short, word
    assert "· 叫应：回应叫应、叫应情况、叫应记录、叫应、解除、提示函" not in short  # admins answer nothing
    assert "叫应：叫应情况、叫应记录、叫应、解除、提示函" in short
    assert "回应叫应" in await _help(h, "jh-yb", "")
    await h.say("g-jl", "jl-bs", "@应急助手 叫应记录 1")
    h.expect_sent("叫应记录只有值班员和管理员可以调取")


async def _silent_two(h: Harness) -> int:
    wid = await issue(h)
    for pid in JILIN:
        if pid not in SILENT:
            await h.say("g-jl", pid, "收到")
    h.new()
    return wid


async def _records(h: Harness, person: str, channel: str) -> list:
    from models.warnings import CallRecord

    async with h.app.sessions() as s:
        return list((await s.exec(select(CallRecord).where(CallRecord.person_id == person,
                                                           CallRecord.channel == channel))).all())


@both_backends
async def test_2_one_call_per_number_carries_every_reason(h: Harness) -> None:
    await _silent_two(h)
    await h.tick(minutes=5, seconds=1)  # +5: jh-bb is due a call as a silent named person and as jh-yb's B角
    calls = h.app.data["call_provider"].calls
    assert sorted(c.to for c in calls) == ["13900000067", "13900000068"]  # each number once
    voice = await _records(h, "jh-bb", "voice")
    assert len(voice) == 1 and voice[0].phone == "13900000068"
    assert "本人未回应" in voice[0].text and "汪俊峰（A角）未回应，您是其B角" in voice[0].text
    await h.say("chuzhang", "liwd", "@应急助手 叫应记录 1")
    sheet = load_workbook(h.expect_sent("全部呼叫与应答记录见附件").attachment)["叫应记录"]
    phone_rows = [r for r in sheet.iter_rows(min_row=3, values_only=True) if r[4] == "电话" and r[1] == "田秀英"]
    assert len(phone_rows) == 1


async def test_2_call_budget_falls_back_to_sms_and_says_why(h: Harness) -> None:
    h.app.cfg.warnings.call_budget.per_hour = 2
    await _silent_two(h)
    for _ in range(3):  # the calls of +5, +10 and +15
        await h.tick(minutes=5, seconds=1)
    placed = [c for c in h.app.data["call_provider"].calls if c.to == "13900000067"]
    assert [c.kind for c in placed] == ["voice", "voice", "sms"]
    sms = await _records(h, "jh-yb", "sms")
    assert len(sms) == 1 and sms[0].text.startswith("电话呼叫已达上限（每小时最多2次），改发短信：")


async def test_2_a_number_called_a_minute_ago_is_not_called_again(h: Harness) -> None:
    second = ORDER_WIND = "@应急助手 叫应 红色 大风预警 范围：蛟河市 内容：大风 时限5分钟"
    await _silent_two(h)
    await h.tick(seconds=30)
    second = await issue(h, ORDER_WIND)
    h.new()
    await h.tick(minutes=4, seconds=31)  # +5 of the first warning
    n = len(h.app.data["call_provider"].calls)
    await h.tick(seconds=30)  # +5 of the second, 30 s later: same numbers
    assert len(h.app.data["call_provider"].calls) == n
    joined = [r for r in await _records(h, "jh-yb", "voice_joined") if r.warning_id == second]
    assert len(joined) == 1 and "未重复拨打" in joined[0].text


async def test_2_ack_cancels_pending_steps_at_once(h: Harness) -> None:
    from models.warnings import EscalationStep, Obligation

    wid = await _silent_two(h)
    await h.say("g-jl", "jh-yb", "收到")
    async with h.app.sessions() as s:
        o = (await s.exec(select(Obligation).where(Obligation.warning_id == wid, Obligation.person_id == "jh-yb"))).one()
        steps = (await s.exec(select(EscalationStep).where(EscalationStep.obligation_id == o.id))).all()
    assert steps and {st.status for st in steps} == {"cancelled"}


@both_backends
async def test_2_no_step_runs_after_close_or_ack_even_if_read_before(h: Harness) -> None:
    from handlers.warnings.escalate import due_steps, run_batch

    wid = await _silent_two(h)
    h.clock.advance(minutes=5, seconds=1)
    due = await due_steps(h.app, h.clock.now())  # a process read these, then paused
    assert due
    await h.say("g-jl", "jh-bb", "收到")  # jh-bb answers meanwhile
    await run_batch(h.app, due[:3], h.clock.now())
    await h.drain()
    assert "13900000068" not in {c.to for c in h.app.data["call_provider"].calls}
    due = await due_steps(h.app, h.clock.now())
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    h.new()
    calls = len(h.app.data["call_provider"].calls)
    assert await run_batch(h.app, due, h.clock.now()) == 0  # 解除 voided them
    # a warning that ended while its steps stayed claimable (expired, or a step claimed by a paused process):
    # the step is claimed, finds the warning over in the transaction that acts, and does nothing
    third = await _silent_two(h)
    h.clock.advance(minutes=5, seconds=1)
    due = await due_steps(h.app, h.clock.now())
    async with h.app.sessions() as s:
        w = await s.get(Warning, third)
        w.status = "closed"
        s.add(w)
        await s.commit()
    assert await run_batch(h.app, due, h.clock.now()) > 0
    await h.drain()
    assert h.new() == [] and len(h.app.data["call_provider"].calls) == calls


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_2_close_while_a_batch_is_paused_mid_run(settings: Settings, clock: FakeClock,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Process A has locked and claimed its steps and pauses; B's 解除 waits for it (no deadlock), and once
    解除 is committed no step of the warning runs anywhere."""
    import asyncio

    from handlers.warnings import escalate

    a, b = create_app(settings, clock=clock), create_app(settings, clock=clock)
    await a.start(background=False)
    await b.start(background=False)
    try:
        wid = await issue(Harness(a, clock))
        clock.advance(minutes=2, seconds=5)
        paused, go = asyncio.Event(), asyncio.Event()
        real = escalate._run

        async def slow(batch: escalate.Batch, step: object, token: str) -> object:
            paused.set()
            await go.wait()
            return await real(batch, step, token)  # type: ignore[arg-type]

        monkeypatch.setattr(escalate, "_run", slow)
        running = asyncio.create_task(escalate.escalate_due(a, clock.now()))
        await asyncio.wait_for(paused.wait(), 10)
        closing = asyncio.create_task(Harness(b, clock).say("chuzhang", "liwd", f"@应急助手 解除 {wid}", drain=False))
        await asyncio.sleep(0.3)  # real time: 解除 is now waiting for A's lock on the warning
        assert not closing.done()
        go.set()
        ran = await asyncio.wait_for(running, 20)
        assert await asyncio.wait_for(closing, 20) == "warning_closed"
        assert ran > 0  # A's steps ran before 解除 was committed; nothing is left to run after it
        monkeypatch.setattr(escalate, "_run", real)
        clock.advance(minutes=30)
        assert await escalate.escalate_due(a, clock.now()) == 0 and await escalate.escalate_due(b, clock.now()) == 0
        async with a.sessions() as s:
            w = await s.get(Warning, wid)
        assert w.status == "closed"
    finally:
        await a.stop()
        await b.stop()


async def test_2_no_step_of_an_expired_warning_runs_after_downtime(h: Harness) -> None:
    from handlers.warnings.escalate import escalate_due

    wid = await _silent_two(h)
    h.clock.advance(hours=25)  # the bot was down for a day: every step of the chase is overdue, so is expiry
    assert await escalate_due(h.app, h.clock.now()) > 0
    await h.drain()
    sent = h.new()
    assert h.app.data["call_provider"].calls == []
    assert not [m for m in sent if "【催叫】" in m.text or "请以下同志立即回应" in m.text or "AB角叫应" in m.text]
    assert any(m.text.startswith(f"【总结】叫应#{wid}") for m in sent)  # it expired, and says how it ended
    async with h.app.sessions() as s:
        assert (await s.get(Warning, wid)).status == "closed"
