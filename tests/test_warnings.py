"""叫应 scenarios on the fake clock: issue with preview, per-person acknowledgement, escalation."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.app import create_app
from bot.clock import FakeClock
from bot.settings import Settings
from handlers.warnings.escalate import escalate_due
from handlers.warnings.jobs import issue_pending
from models.db import transaction
from models.warnings import CallRecord, EscalationStep, Obligation, Warning
from tests.conftest import both_backends
from tests.harness import Harness

ORDER = "@应急助手 叫应 红色 暴雨预警 范围：吉林市 内容：今夜有大暴雨，请做好防范 时限5分钟"
JILIN = ["jl-yb", "jl-bb", "jl-bbb", "ltq-yb", "ltq-bb", "hd-yb", "hd-bb", "ps-yb", "ps-bb", "jh-yb", "jh-bb"]


async def issue(h: Harness, order: str = ORDER) -> int:
    await h.say("chuzhang", "liwd", order)
    await h.say("chuzhang", "liwd", "@应急助手 确认")
    async with h.app.sessions() as s:
        return (await s.exec(select(Warning).order_by(col(Warning.id).desc()))).first().id


async def states(h: Harness, wid: int) -> dict[str, str]:
    async with h.app.sessions() as s:
        return {o.person_id: o.state for o in (await s.exec(select(Obligation).where(Obligation.warning_id == wid))).all()}


async def test_only_duty_officers_issue(h: Harness) -> None:
    assert await h.say("g-jl", "jl-bs", ORDER) == "warning_denied"
    h.expect_sent("叫应只能由值班员发起")


async def test_bad_orders_say_how_to_fix(h: Harness) -> None:
    await h.say("chuzhang", "liwd", "@应急助手 叫应 暴雨预警 范围：吉林市")
    h.expect_sent("请写明预警级别")
    await h.say("chuzhang", "liwd", "@应急助手 叫应 红色 暴雨预警 范围：火星市")
    h.expect_sent("未知地区：火星市。可选：长春市、吉林市")
    await h.say("chuzhang", "liwd", "@应急助手 叫应 红色 暴雨预警 范围：吉林 内容：立即转移")
    h.expect_sent("未知地区：吉林。您是指吉林市还是全省？")
    await h.say("chuzhang", "liwd", "@应急助手 叫应 橙色 大风预警 范围：吉林市 内容： 时限10分钟")  # nothing to send
    h.expect_sent("内容是空的，请写明要求")
    await h.say("chuzhang", "liwd", "@应急助手 叫应 橙色 大风预警 范围：吉林市 内容：，。😀 时限10分钟")
    h.expect_sent("内容是空的，请写明要求")
    await h.say("chuzhang", "liwd", "@应急助手 叫应 蓝色 大风预警 范围：吉林省 内容：注意防风")  # the province
    assert "吉林市" in h.expect_sent("【预览】").text and "长春市" in h.expect_sent("【预览】").text
    await h.say("chuzhang", "liwd", "@应急助手 取消")


@both_backends
async def test_preview_then_confirm_then_everyone_answers(h: Harness) -> None:
    await h.say("chuzhang", "liwd", ORDER)
    preview = h.expect_sent("【预览】叫应#1 红色暴雨预警，时限5分钟")
    assert "发往1个群：吉林市应急工作群" in preview.text and "点名11人（一把手5人、包保责任人6人）" in preview.text
    assert h.new() and not [m for m in h.sent if m.chat_id == "g-jl"]  # nothing sent before 确认
    await h.say("chuzhang", "liwd", "@应急助手 确认")
    sent = h.new()
    group = [m for m in sent if m.chat_id == "g-jl"]
    assert len(group) == 1 and {m.id for m in group[0].mentions} == set(JILIN)
    assert "今夜有大暴雨" in group[0].text
    assert {m.chat_id for m in sent if m.chat_id.startswith("dm:")} >= {f"dm:{p}" for p in JILIN}
    for i, pid in enumerate(JILIN):
        await h.say("g-jl", pid, ["收到", "已收到", "明白", "收到，马上落实", "已传达到各乡镇"][i % 5])
    assert set((await states(h, 1)).values()) == {"acked"}
    assert not [m for m in h.new() if "已回应" in m.text]  # no reply per person in the group
    await h.tick(seconds=61)
    h.expect_sent("叫应#1 已回应 11/11，全部回应", chat="g-jl")
    await h.tick(minutes=10)
    assert h.app.data["call_provider"].calls == []  # nobody was called: everyone answered
    await h.say("chuzhang", "liwd", "@应急助手 解除 1")
    summary = h.expect_sent("【总结】叫应#1 红色暴雨预警已解除", chat="chuzhang")
    assert "未叫醒0人" in summary.text and "回应率100%（11/11），5分钟内11人（100%）" in summary.text
    # a number ended already, or never issued: said so, with what is in progress; 解除 needs its number
    assert await h.say("chuzhang", "liwd", "@应急助手 解除 1") == "warning_none"
    h.expect_sent("叫应#1 红色暴雨预警已解除，无需重复。目前没有进行中的叫应。")
    await h.say("chuzhang", "liwd", "@应急助手 叫应情况 9")
    h.expect_sent("没有编号#9的叫应。目前没有进行中的叫应。")
    second = await issue(h)
    assert await h.say("chuzhang", "liwd", "@应急助手 解除") == "warning_none"
    h.expect_sent(f"请写明要解除的编号，如“解除 3”。进行中：#{second}。")
    assert await h.say("chuzhang", "liwd", "@应急助手 解除＃９") == "warning_none"
    h.expect_sent("没有编号#9的进行中的叫应")
    await h.say("chuzhang", "liwd", "@应急助手 叫应情况")  # the one in progress, not the newest ended
    assert f"叫应#{second}" in h.new()[-1].text


async def test_silence_escalates_to_unwoken(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN[:-2]:
        await h.say("g-jl", pid, "收到")
    h.new()
    await h.tick(minutes=2)
    remind = [m for m in h.new() if m.chat_id == "g-jl" and "立即回应叫应#1" in m.text]
    assert len(remind) == 1 and {m.id for m in remind[0].mentions} == {"jh-yb", "jh-bb"}  # one line, both named
    await h.tick(minutes=1)
    assert any(m.chat_id == "dm:jh-yb" and "【催叫】" in m.text for m in h.new())
    await h.tick(minutes=2)  # +5: call, AB backup, superior
    out = h.new()
    calls = h.app.data["call_provider"].calls
    assert {c.kind for c in calls} == {"voice"} and len(calls) >= 2
    assert any(m.chat_id == "dm:jh-bb" and "【AB角叫应】" in m.text for m in out)  # jh-yb's B角
    assert any(m.chat_id == "dm:jl-yb" and "【未叫醒】" in m.text and "jh" not in m.text for m in out)
    assert any(m.chat_id == "dm:liwd" and "【未叫醒名单】" in m.text for m in out)
    await h.tick(minutes=5)  # +10: the second round
    await h.tick(minutes=6)  # +16: the third round (+15), then finalize
    st = await states(h, wid)
    assert st["jh-yb"] == "unwoken" and st["jh-bb"] == "unwoken" and st["jl-yb"] == "acked"
    # the third round's 未叫醒名单 and the end of the chase fall due together: the names go once
    assert "汪俊峰" in h.expect_sent("【未叫醒名单】叫应#1 红色暴雨预警已过16分钟", chat="dm:liwd").text
    h.expect_sent("催叫结束，未叫醒2人，名单同上", chat="dm:liwd")
    async with h.app.sessions() as s:
        recs = (await s.exec(select(CallRecord).where(CallRecord.person_id == "jh-yb"))).all()
    channels = [r.channel for r in recs]
    assert channels.count("group") >= 4 and channels.count("voice") == 3 and channels.count("private") >= 4


@both_backends
async def test_restart_in_the_middle_of_escalation(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings, clock=clock)
    await app.start(background=False)
    h = Harness(app, clock)
    await issue(h)
    await h.tick(minutes=2, seconds=30)  # the +2 re-mention ran
    await app.stop()
    clock.advance(minutes=10)  # the bot was down through +3, +5, +10

    again = create_app(settings, clock=clock)
    await again.start(background=False)
    try:
        ran = await escalate_due(again, clock.now())
        assert ran > 0
        async with again.sessions() as s:
            steps = (await s.exec(select(EscalationStep).where(EscalationStep.status != "pending"))).all()
            remention = [x for x in steps if x.action == "remention" and x.seq == 0]
        assert all(x.late_s is not None for x in steps)
        assert max(x.late_s for x in steps) >= 9 * 60  # the +3 private step ran ~10 minutes late
        assert len(remention) == len(JILIN) and max(x.late_s for x in remention) < 60  # not run twice
        assert await escalate_due(again, clock.now()) == 0
    finally:
        await again.stop()


@both_backends
async def test_two_processes_run_each_step_once(settings: Settings, clock: FakeClock) -> None:
    import asyncio

    a, b = create_app(settings, clock=clock), create_app(settings, clock=clock)
    await a.start(background=False)
    await b.start(background=False)
    try:
        await issue(Harness(a, clock))
        clock.advance(minutes=2, seconds=5)
        ran = await asyncio.gather(escalate_due(a, clock.now()), escalate_due(b, clock.now()))
        assert sum(ran) == len(JILIN) + 1  # every re-mention plus the rolling line, once
        async with a.sessions() as s:
            group_calls = (await s.exec(select(CallRecord).where(CallRecord.channel == "group",
                                                                 CallRecord.person_id == "jl-yb"))).all()
        assert len(group_calls) == 2  # the warning itself and one re-mention
    finally:
        await a.stop()
        await b.stop()


async def test_two_open_warnings_and_explicit_numbers(h: Harness) -> None:
    first = await issue(h)
    second = await issue(h, ORDER.replace("暴雨预警", "大风预警"))
    h.new()
    await h.say("g-jl", "hd-yb", "收到")
    h.expect_sent(f"已记为回应叫应#{second} 橙色大风预警".replace("橙色", "红色") + f"；您还有#{first}待回应")
    await h.say("g-jl", "hd-yb", f"收到 {first}")
    assert (await states(h, first))["hd-yb"] == "acked" and (await states(h, second))["hd-yb"] == "acked"
    await h.say("g-jl", "ps-yb", "收到 99")
    h.expect_sent("您没有待回应的编号99")
    # in private: the one answered and what is still open; the number as typed on a phone (收到＃１, 收到1)
    await h.dm("ps-yb", "收到")
    assert f"您还有#{first}待回应" in h.expect_sent(f"已记录您对叫应#{second}", chat="dm:ps-yb").text
    assert await h.dm("ps-yb", f"收到＃{chr(ord('０') + first)}") == "ack"
    assert (await states(h, first))["ps-yb"] == "acked"
    assert await h.dm("jh-yb", f"收到{first}") == "ack" and (await states(h, first))["jh-yb"] == "acked"


async def test_look_alikes_do_not_acknowledge(h: Harness) -> None:
    wid = await issue(h)
    for text in ["没收到", "收到了吗", "是否收到", "收到了吗？文件在哪", "还有谁没收到"]:
        await h.say("g-jl", "hd-yb", text)
    assert (await states(h, wid))["hd-yb"] == "sent"


async def test_private_one_and_measures_are_recorded(h: Harness) -> None:
    wid = await issue(h)
    await h.dm("hd-yb", "1")
    h.expect_sent("已记录您对叫应#1 红色暴雨预警的回应", chat="dm:hd-yb")
    await h.dm("hd-yb", "已转移群众36人，已启动Ⅳ级响应")
    h.expect_sent("的落实措施", chat="dm:hd-yb")
    await h.say("g-jl", "ps-yb", "收到，已启动Ⅳ级应急响应")
    st = await states(h, wid)
    assert st["hd-yb"] == "responded" and st["ps-yb"] == "responded"
    await h.say("chuzhang", "liwd", "@应急助手 叫应情况")
    status = h.expect_sent("叫应#1 红色暴雨预警（发出")
    assert "点名11人，已回应2人" in status.text and "已转移群众36人" in status.text
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    assert "落实措施：" in h.expect_sent("【总结】").text
    await h.say("chuzhang", "liwd", f"@应急助手 叫应记录 {wid}")
    path = h.expect_sent("全部呼叫与应答记录见附件").attachment
    from openpyxl import load_workbook

    wb = load_workbook(path)
    rows = list(wb["叫应记录"].iter_rows(min_row=3, values_only=True))
    assert any(r[3] == "应答" and r[5] == "1" for r in rows) and wb["回应情况"].max_row == 12


async def test_prompt_letter_is_a_word_file_with_receipts(h: Harness) -> None:
    from docx import Document

    from tests.daily_helpers import simple_report

    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", __import__("datetime").date(2026, 3, 13)))
    await h.say("g-sp", "ls-bs", "@应急助手 提示函 梨树县 危化品隐患整改不到位")
    h.expect_sent("提示函只能由处长或值班员发出")
    await h.dm("liuql", "提示函 梨树县 危化品隐患整改不到位")
    h.expect_sent("提示函第1号已发梨树县（1项）", chat="dm:liuql")
    notice = h.expect_sent("【提示函】第1号（#1）\n梨树县：危化品隐患整改不到位（1项，详见附件）", chat="g-sp")
    assert "橙色" not in notice.text
    private = [m for m in h.sent if m.chat_id == "dm:ls-yb" and "提示函" in m.text]
    assert private and all(m.attachment and m.attachment.endswith(".docx") for m in private)  # 详见附件: it is there
    assert {m.id for m in notice.mentions} == {"ls-yb", "ls-bs"} and notice.attachment.endswith(".docx")
    text = "\n".join(p.text for p in Document(notice.attachment).paragraphs)
    assert "梨树县" in text and "1. 示范化工有限公司：储罐区可燃气体报警器未检定（3月13日发现，整改期限3月18日" in text and "{" not in text
    await h.dm("ls-yb", "收到")
    h.expect_sent("已记录您对提示函第1号（#1）的回应", chat="dm:ls-yb")
    assert (await states(h, 1))["ls-yb"] == "acked"


async def test_http_api_with_token_and_dry_run(h: Harness) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import create_web

    client = TestClient(TestServer(create_web(h.app)))
    await client.start_server()
    try:
        body = {"level": "橙色", "type": "森林火险预警", "regions": ["延边州"], "content": "高火险", "dry_run": True}
        r = await client.post("/api/warnings", json=body)
        assert r.status == 401
        auth = {"Authorization": "Bearer test-token"}
        r = await client.post("/api/warnings", json=body, headers=auth)
        data = await r.json()
        assert r.status == 200 and data["status"] == "preview" and data["preview"]["groups"] == ["延边州应急工作群"]
        r = await client.post("/api/warnings", json={**body, "dry_run": False}, headers=auth)
        data = await r.json()
        assert r.status == 202 and data["status"] == "issuing"
        await issue_pending(h.app, h.clock.now())  # whether or not the spawned job got there first
        async with h.app.sessions() as s:
            assert (await s.get(Warning, data["id"])).status == "active"  # type: ignore[union-attr]
        await h.drain()
        h.expect_sent("【橙色森林火险预警】", chat="g-yb")
        r = await client.post("/api/warnings", json={"level": "紫色", "regions": ["吉林市"]}, headers=auth)
        assert r.status == 400 and "级别" in (await r.json())["error"]
    finally:
        await client.close()


async def test_issue_job_left_by_a_crash_is_resumed(h: Harness) -> None:
    """A warning stored `issuing` whose process died before activating it is sent by the scheduled job."""
    from handlers.warnings.issue import Order, new_warning

    async with transaction(h.app.sessions) as session:
        w = new_warning(h.app, Order("橙色", "森林火险预警", ["延边朝鲜族自治州"], "高火险", None), "api", h.clock.now(), None, None)
        w.status = "issuing"
        session.add(w)
    assert await h.app.scheduler.run("issue_pending") > 0  # type: ignore[union-attr]
    assert await h.app.scheduler.run("issue_pending") == 0  # type: ignore[union-attr]
    await h.drain()
    h.expect_sent("【橙色森林火险预警】", chat="g-yb")


async def test_quote_reply_names_the_warning(h: Harness) -> None:
    first = await issue(h)
    second = await issue(h, ORDER.replace("暴雨预警", "大风预警"))
    await h.say("g-jl", "hd-yb", f"「应急助手：【红色暴雨预警】叫应#{first} 今夜有大暴雨」\n- - - - - - - - - - - - - - -\n收到")
    assert (await states(h, first))["hd-yb"] == "acked" and (await states(h, second))["hd-yb"] == "sent"


@both_backends
async def test_acks_in_a_burst_commit_together(h: Harness) -> None:
    """Plain 收到 in a burst take the group-commit lane: each is stored raw, acked, recorded and its pending
    step cancelled in one transaction per batch; a repeat is a duplicate; a measure takes the normal path."""
    import asyncio

    from models.core import RawMessage

    wid = await issue(h)
    batcher = h.app.data["ack_batcher"]
    await batcher.index.rebuild()  # the index is caught up once a second; a fresh warning may be newer
    assert batcher.index.has_open("jl-yb") and not batcher.index.has_open("liwd")
    before = batcher.batches
    events = [h.event("g-jl", pid, "收到", message_id=f"burst-{pid}") for pid in JILIN[:-1]]
    outcomes = await asyncio.gather(*(h.app.feed(e) for e in events), h.app.feed(events[0]))
    assert outcomes.count("ack") == len(JILIN) - 1 and outcomes.count("duplicate") == 1
    assert batcher.batches - before < len(JILIN) - 1  # they shared transactions
    got = await states(h, wid)
    assert all(got[p] == "acked" for p in JILIN[:-1]) and got[JILIN[-1]] == "sent"
    assert not batcher.index.has_open("jl-yb") and batcher.index.has_open(JILIN[-1])
    async with h.app.sessions() as s:
        raws = (await s.exec(select(RawMessage).where(col(RawMessage.message_id).like("burst-%")))).all()
        assert len(raws) == len(JILIN) - 1 and {r.outcome for r in raws} == {"ack"}
        at = events[0].received_at
        raw = next(r for r in raws if r.message_id == "burst-jl-yb")
        assert (raw.transport, raw.chat_id, raw.sender_id, raw.text, raw.received_at) == (
            "sim", events[0].chat_id, events[0].sender_id, "收到", at)
        assert raw.is_group and raw.sender_known and raw.chat_known and raw.meta == {} and raw.attachments == []
        assert raw.handler == "handlers.warnings.ack.acknowledge" and raw.error is None
        ob = (await s.exec(select(Obligation).where(Obligation.warning_id == wid, Obligation.person_id == "jl-yb"))).one()
        assert (ob.acked_at, ob.ack_channel, ob.ack_text) == (at, "group", "收到")
        steps = (await s.exec(select(EscalationStep).join(Obligation, col(Obligation.id) == col(EscalationStep.obligation_id))
                              .where(Obligation.person_id == "jl-yb"))).all()
        assert steps and {x.status for x in steps} == {"cancelled"}
        records = (await s.exec(select(CallRecord).where(CallRecord.person_id == "jl-yb", CallRecord.channel == "ack"))).all()
        assert [(r.warning_id, r.obligation_id, r.at, r.direction, r.text) for r in records] == [
            (wid, ob.id, at, "in", "收到")]
    assert await h.say("g-jl", JILIN[-1], "已转移群众36人") == "ack"  # a measure: the normal handler
    assert (await states(h, wid))[JILIN[-1]] == "responded"
    assert await h.dm("jl-yb", "收到") == "nothing_to_answer"  # nothing open any more: told so, not 没听懂
    assert "没有待回应的叫应" in h.expect_sent("无需再回复", chat="dm:jl-yb").text


@both_backends
async def test_a_batch_with_a_message_stored_before_falls_back_whole(h: Harness) -> None:
    """A 收到 whose raw row another process stored already (the database's unique key, not the de-dup cache,
    knows it) fails its batch: nothing of the batch is kept, and each message goes down the normal chain,
    which acks the others and calls that one a duplicate."""
    import asyncio

    from models.core import RawMessage

    wid = await issue(h)
    await h.app.data["ack_batcher"].index.rebuild()
    events = [h.event("g-jl", pid, "收到", message_id=f"fb-{pid}") for pid in JILIN[:4]]
    async with transaction(h.app.sessions) as s:
        e = events[2]
        s.add(RawMessage(transport=e.transport, chat_id=e.chat_id, sender_id=e.sender_id, message_id=e.message_id,
                         text=e.text, received_at=e.received_at, outcome="ack"))
    outcomes = await asyncio.gather(*(h.app.feed(e) for e in events))
    assert outcomes == ["ack", "ack", "duplicate", "ack"]
    got = await states(h, wid)
    assert [got[p] for p in JILIN[:4]] == ["acked", "acked", "sent", "acked"]
    async with h.app.sessions() as s:
        assert len((await s.exec(select(RawMessage).where(col(RawMessage.message_id).like("fb-%")))).all()) == 4
        assert len((await s.exec(select(CallRecord).where(CallRecord.warning_id == wid,
                                                          CallRecord.channel == "ack"))).all()) == 3


@both_backends
async def test_per_person_steps_run_in_bulk(h: Harness) -> None:
    """A batch of only per-person steps (the 2-minute re-mention of everyone silent) takes the bulk path:
    one line per group naming them, obligations escalated, records written, the next step scheduled."""
    wid = await issue(h)
    start = h.clock.now()
    for pid in JILIN[:-2]:
        await h.say("g-jl", pid, "收到")
    h.clock.set(start + timedelta(seconds=61))
    await escalate_due(h.app, h.clock.now())  # the rolling line; re-scheduled a minute later
    h.clock.set(start + timedelta(minutes=2))
    h.new()
    assert await escalate_due(h.app, h.clock.now()) == 2
    await h.drain()
    remind = [m for m in h.new() if m.chat_id == "g-jl" and "立即回应叫应#1" in m.text]
    assert len(remind) == 1 and {m.id for m in remind[0].mentions} == {"jh-yb", "jh-bb"}
    got = await states(h, wid)
    assert got["jh-yb"] == got["jh-bb"] == "escalated" and got["jl-yb"] == "acked"
    async with h.app.sessions() as s:
        steps = (await s.exec(select(EscalationStep).join(Obligation, col(Obligation.id) == col(EscalationStep.obligation_id))
                              .where(Obligation.person_id == "jh-yb").order_by(col(EscalationStep.seq)))).all()
        assert [(x.action, x.status) for x in steps] == [("remention", "done"), ("private", "pending")]
        assert steps[0].late_s == 0 and steps[0].run_token
        calls = (await s.exec(select(CallRecord).where(CallRecord.person_id == "jh-yb", CallRecord.channel == "group"))).all()
        assert len(calls) == 2  # the warning itself and the re-mention
    assert await escalate_due(h.app, h.clock.now()) == 0  # ran once


async def test_steps_due_together_are_batched_by_group(h: Harness) -> None:
    """Steps due together are claimed group by group, so a batch smaller than the warning still re-mentions
    each group's silent people in one message (a province: ~1,810 group messages, not 20,000)."""
    from handlers.warnings.escalate import due_steps, run_batch

    await issue(h, ORDER.replace("范围：吉林市", "范围：全省"))
    h.clock.advance(minutes=2, seconds=5)
    async with h.app.sessions() as s:
        group_of = dict((await s.exec(select(Obligation.id, Obligation.group_id))).all())
        step_ob = dict((await s.exec(select(EscalationStep.id, EscalationStep.obligation_id))).all())
    due = await due_steps(h.app, h.clock.now(), batch=1000)
    groups = [group_of[step_ob[i]] for i in due if step_ob[i] is not None]
    by_id = [group_of[step_ob[i]] for i in sorted(due) if step_ob[i] is not None]
    assert len(set(groups)) > 2 and groups == sorted(groups) and by_id != sorted(by_id)
    h.new()
    while due := await due_steps(h.app, h.clock.now(), batch=len(JILIN)):
        await run_batch(h.app, due, h.clock.now())
    await h.drain()
    remind = [m for m in h.new() if m.chat_id == "g-jl" and "立即回应叫应" in m.text]
    # a group is split only where a batch ends: at most two messages when a batch holds a group
    assert sum(len(m.mentions) for m in remind) == len(JILIN) and len(remind) <= 2
