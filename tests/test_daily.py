"""Whole days on the fake clock, through the real scheduler job."""
from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select

from bot.clock import TZ, local
from models.daily import Commentary
from models.reports import InspectionReport
from tests.daily_helpers import post_all, run_day_until, simple_report
from tests.harness import Harness

MONDAY = date(2026, 3, 16)
FRIDAY = date(2026, 3, 13)


async def test_a_day_where_everyone_reports_on_time(h: Harness) -> None:
    n = await post_all(h, FRIDAY)
    assert n == len(h.app.directory.reporting_units())
    h.new()
    await run_day_until(h, MONDAY, 17, 35)
    sent = h.new()
    assert not [m for m in sent if "未报送" in m.text and "还有" in m.text]  # no reminders needed
    assert any("3月13日日报已全部按时报送" in m.text and m.chat_id == "chuzhang" for m in sent)
    consolidated = next(m for m in sent if m.text.startswith("【3月13日日报表】"))
    assert consolidated.chat_id == "chuzhang" and consolidated.attachment.endswith("日报表_2026-03-13.xlsx")
    assert f"已报{n}个" in consolidated.text and "市县未报送：无" in consolidated.text
    drafts = [m for m in sent if "草稿，待处长审定" in m.text]
    assert {m.chat_id for m in drafts} >= {"dm:liuql"}
    # nobody approved by 17:30: the configured policy posts the drafts as they are
    published = [m for m in sent if m.text.startswith("【危化品日点评】") and m.chat_id in ("chuzhang", "anwei")]
    assert len(published) == 2


async def test_late_and_missing_units(h: Harness) -> None:
    d = h.app.directory
    await post_all(h, FRIDAY, skip={"ls-yjj", "tdq-yjj", "yj-yjj"})
    h.new()
    await run_day_until(h, MONDAY, 14, 0)
    reminders = h.new()
    sp = next(m for m in reminders if m.chat_id == "g-sp")
    assert sp.text.endswith("还有2个单位未报送3月13日日报：梨树县应急管理局、铁东区应急管理局。请15:00前报送。")
    assert {m.id for m in sp.mentions} == {"ls-bs", "tdq-bs"}
    assert any(m.chat_id == "g-yb" and "延吉市应急管理局" in m.text for m in reminders)
    await run_day_until(h, MONDAY, 15, 0)
    notices = h.new()
    assert any(m.chat_id == "chuzhang" and "3个单位未报送3月13日日报" in m.text for m in notices)
    assert any(m.chat_id == "g-sp" and "梨树县应急管理局" in m.text and "请立即补报" in m.text for m in notices)
    h.clock.set(local(MONDAY, 15, 30))
    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", FRIDAY))
    h.expect_sent("逾期报送，已标记")
    await run_day_until(h, MONDAY, 16, 30)
    text = h.expect_sent("【3月13日日报表】", chat="chuzhang").text
    assert "（逾期1个）" in text and "市县未报送（2个）：铁东区应急管理局、延吉市应急管理局" in text
    assert f"已报{len(d.reporting_units()) - 2}个" in text


async def test_adjusted_saturday_is_a_workday(h: Harness) -> None:
    saturday = date(2026, 2, 28)  # 调休上班
    h.clock.set(datetime(2026, 2, 28, 13, 0, tzinfo=TZ))
    await run_day_until(h, saturday, 14, 0)
    assert any("2月27日日报" in m.text for m in h.new())


async def test_holiday_is_quiet(h: Harness) -> None:
    h.clock.set(datetime(2026, 10, 1, 8, 0, tzinfo=TZ))
    await run_day_until(h, date(2026, 10, 1), 18, 0, step_min=15)
    assert h.new() == []


async def test_2027_falls_back_to_weekdays_and_warns_once(h: Harness) -> None:
    h.clock.set(datetime(2027, 1, 4, 8, 0, tzinfo=TZ))  # a Monday the library knows nothing about
    await run_day_until(h, date(2027, 1, 4), 14, 5)
    sent = h.new()
    warnings = [m for m in sent if "尚无2027年安排" in m.text]
    assert len(warnings) == 1 and warnings[0].chat_id == "chuzhang"
    assert any("2027" not in m.text and "1月1日日报" in m.text for m in sent)  # Friday 1 January is the report date
    await h.tick(minutes=30)
    assert not any("尚无2027年安排" in m.text for m in h.new())


async def test_emergency_mode_with_five_rounds(h: Harness) -> None:
    await h.say("g-jl", "liwd", "@应急助手 提级管理 5轮 3月16日至3月17日")
    h.expect_sent("已启动提级管理：3月16日至3月17日，每日5轮，截止时间 09:00、11:00、13:00、15:00、17:00")
    await h.say("g-jl", "jl-bs", "@应急助手 提级管理 3轮")
    h.expect_sent("只有省级管理员或值班员可以启动提级管理")
    h.clock.set(local(MONDAY, 8, 0))
    await run_day_until(h, MONDAY, 8, 30)
    assert any("3月16日第1轮日报" in m.text for m in h.new())
    h.clock.set(local(MONDAY, 10, 0))
    await h.say("g-jl", "hd-bs", simple_report("桦甸市应急管理局", MONDAY).replace("3月16日", "今日"))
    h.expect_sent("已登记 桦甸市 3月16日第2轮")
    await run_day_until(h, MONDAY, 17, 0)
    reminded = {n for n in range(1, 6) if any(f"未报送3月16日第{n}轮日报" in m.text for m in h.sent)}
    assert reminded == {1, 2, 3, 4, 5}
    async with h.app.sessions() as s:
        rep = (await s.exec(select(InspectionReport))).one()
    assert rep.round == 2 and rep.report_date == MONDAY and not rep.late
    await h.say("g-jl", "liwd", "@应急助手 解除提级")
    h.expect_sent("已解除提级管理")


async def test_commentary_remarks_and_approval(h: Harness) -> None:
    await post_all(h, FRIDAY)
    h.clock.set(local(MONDAY, 16, 0))
    await run_day_until(h, MONDAY, 16, 40, step_min=10)
    h.new()
    await h.dm("liuql", "点评 危化品：各地要把隐患依据写清楚")
    h.expect_sent("处长意见：各地要把隐患依据写清楚", chat="dm:liuql")
    await h.dm("zhaohy", "发布点评 危化品")
    h.expect_sent("只有危化品处长可以发布危化品点评")
    await h.dm("liuql", "发布点评 危化品")
    out = h.new()
    published = [m for m in out if m.text.startswith("【危化品日点评】")]
    assert {m.chat_id for m in published} == {"chuzhang", "anwei"}
    assert "处长意见：各地要把隐患依据写清楚" in published[0].text and "（刘庆利）" in published[0].text
    async with h.app.sessions() as s:
        c = (await s.exec(select(Commentary).where(Commentary.domain == "危化品"))).one()
    assert c.status == "published" and c.approved_by == "liuql"
    await run_day_until(h, MONDAY, 17, 35)
    assert not [m for m in h.new() if m.text.startswith("【危化品日点评】")]  # not posted twice


async def test_queries(h: Harness) -> None:
    await post_all(h, FRIDAY, skip={"ls-yjj"})
    h.clock.set(local(MONDAY, 14, 30))
    await h.say("chuzhang", "liuql", "@应急助手 今日未报")
    assert "未报1个：梨树县应急管理局" in h.expect_sent("本轮催报：3月13日检查情况日报（3月16日15:00截止）").text
    await h.say("chuzhang", "liuql", "@应急助手 日报表 3月13日")
    msg = h.expect_sent("【3月13日日报表】")
    assert msg.attachment and msg.attachment.endswith(".xlsx")
    assert await h.say("chuzhang", "liuql", "@应急助手 日报表 3月15日") == "daily_report_rest_day"  # a Sunday
    h.expect_sent("3月15日为休息日，不要求报送日报")
    await h.say("chuzhang", "liuql", "@应急助手 统计 上周 吉林市")
    h.expect_sent("吉林市上周（3月9日—3月15日）：报送")
    await h.say("chuzhang", "liuql", "@应急助手 统计 3月13日")  # one day, said once
    h.expect_sent("全省3月13日：报送")
    await h.say("chuzhang", "liuql", "@应急助手 统计 上上周")  # not last week's
    h.expect_sent("全省上上周（3月2日—3月8日）：")
    await h.say("chuzhang", "liuql", "@应急助手 统计 上月")
    h.expect_sent("全省上月（2月1日—2月28日）：")
    await h.say("chuzhang", "liuql", "@应急助手 隐患清单 吉林市 危化品")
    h.expect_sent("吉林市危化品未整改隐患")
    assert await h.say("chuzhang", "liuql", "@应急助手 隐患 吉林市") == "hazard_list"  # as people type it
    h.expect_sent("吉林市未整改隐患")
    assert await h.say("chuzhang", "liuql", "@应急助手 隐患怎么整改") == "unknown_command"  # not the list
    # a place or word the list cannot filter by is said, not answered for the whole province
    for args, word in (("北京市", "北京市"), ("abc", "abc"), ("吉林市 消防", "消防")):
        assert await h.say("chuzhang", "liuql", f"@应急助手 隐患 {args}") == "hazard_list_unknown"
        assert "全省" not in h.expect_sent(f"没有找到“{word}”").text
    assert await h.say("chuzhang", "liuql", "@应急助手 隐患 吉林") == "hazard_list_unknown"  # the city, or the province?
    assert "您是指吉林市还是全省？" in h.expect_sent("没有找到“吉林”").text
    assert await h.say("chuzhang", "liuql", "@应急助手 隐患清单 全省 危化") == "hazard_list"
    await h.say("g-jl", "jl-bs", "@应急助手 统计 上周")  # in a city's group 统计 and 今日未报 are that city's too
    h.expect_sent("吉林市上周（3月9日—3月15日）", chat="g-jl")
    await h.say("g-jl", "jl-bs", "@应急助手 统计 上周 全省")
    h.expect_sent("全省上周（3月9日—3月15日）", chat="g-jl")
    await h.say("g-jl", "jl-bs", "@应急助手 今日未报")
    assert "梨树县" not in h.expect_sent("本轮催报", chat="g-jl").text
    await h.say("g-jl", "jl-bs", "@应急助手 今日未报 全省")
    assert "梨树县应急管理局" in h.expect_sent("本轮催报", chat="g-jl").text
    await h.say("g-jl", "jl-bs", "@应急助手 隐患")  # in a city's group: that city, unless 全省 is asked for
    h.expect_sent("吉林市未整改隐患", chat="g-jl")
    await h.say("g-jl", "jl-bs", "@应急助手 隐患 全省")
    h.expect_sent("全省未整改隐患", chat="g-jl")
    await h.say("g-jl", "jl-bs", "@应急助手 隐患 吉林省")
    h.expect_sent("全省未整改隐患", chat="g-jl")
    assert await h.say("g-jl", "jl-bs", "@应急助手 隐患\u3000龙潭区") == "hazard_list"  # a full-width space
    h.expect_sent("吉林市龙潭区", chat="g-jl")
    assert await h.say("chuzhang", "liuql", "@应急助手 统计 北京市") == "stats_unknown"
    h.expect_sent("没有找到地区“北京市”")
    assert await h.say("chuzhang", "liuql", "@应急助手 统计 上周 吉林") == "stats_unknown"
    assert "您是指吉林市还是全省？" in h.expect_sent("没有找到“吉林”").text
    assert await h.say("chuzhang", "liuql", "@应急助手 统计 上周 吉林市龙潭区") == "stats"


async def test_consolidated_workbook_layout(h: Harness) -> None:
    from openpyxl import load_workbook

    await post_all(h, FRIDAY)
    await h.say("chuzhang", "liuql", "@应急助手 日报表 3月13日")
    path = h.expect_sent("【3月13日日报表】").attachment
    wb = load_workbook(path)
    assert wb.sheetnames == ["汇总", "附表1 省本级", "附表2 市县"]
    header = [c.value for c in wb["附表2 市县"][2]]
    assert header == ["检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况"]
    assert wb["附表2 市县"].max_row == 2 + len(h.app.directory.reporting_units()) - 1
    assert wb["附表1 省本级"].max_row == 3


async def test_close_a_hazard_and_keep_its_history(h: Harness) -> None:
    from models.reports import Hazard, HazardEvent

    await h.say("g-jl", "hd-bs", simple_report("桦甸市应急管理局", FRIDAY))
    async with h.app.sessions() as s:
        hz = (await s.exec(select(Hazard))).one()
    await h.say("g-jl", "ltq-bs", f"@应急助手 销号 {hz.id} 已检定")
    h.expect_sent("只有该单位报送员或危化品处长可以销号")
    await h.say("g-jl", "hd-bs", f"@应急助手 销号 {hz.id}")
    h.expect_sent("请写明整改说明")
    wide = str(hz.id).translate(str.maketrans("0123456789", "０１２３４５６７８９"))  # as an input method types it
    assert await h.say("g-jl", "hd-bs", f"@应急助手 销号 {hz.id}、{hz.id + 1} 已整改") == "close_bad"
    h.expect_sent(f"一次销号一处，请分别发送，如：销号 {hz.id} 整改说明")
    await h.say("g-jl", "hd-bs", f"@应急助手 销号 ＃{wide}\u3000已更换报警器并检定合格")
    h.expect_sent(f"已销号 #{hz.id}")
    await h.say("g-jl", "hd-bs", f"@应急助手 销号 {hz.id} 已更换")
    h.expect_sent(f"#{hz.id} 已销号，无需重复操作")
    async with h.app.sessions() as s:
        events = (await s.exec(select(HazardEvent).order_by(col(HazardEvent.id)))).all()
    assert [e.action for e in events] == ["found", "closed"] and events[1].actor == "hd-bs"
    # corrected away: the answer says so and where to find the new number
    await h.say("g-jl", "hd-bs", simple_report("桦甸市应急管理局", FRIDAY))
    await h.say("g-jl", "hd-bs", simple_report("桦甸市应急管理局", FRIDAY))
    async with h.app.sessions() as s:
        gone = (await s.exec(select(Hazard).where(Hazard.status == "superseded"))).first()
    assert gone is not None
    await h.say("g-jl", "hd-bs", f"@应急助手 销号 {gone.id} 已整改")
    h.expect_sent(f"#{gone.id} 所在的日报已更正，此编号作废。请发“隐患清单”查看新编号")


async def test_overdue_hazards_listed_each_morning(h: Harness) -> None:
    await h.say("g-jl", "hd-bs", simple_report("桦甸市应急管理局", FRIDAY))  # 限期5日 → 3月18日
    h.clock.set(datetime(2026, 3, 19, 8, 0, tzinfo=TZ))
    await run_day_until(h, date(2026, 3, 19), 8, 30)
    msg = h.expect_sent("【逾期隐患提醒】吉林市辖区逾期未整改隐患1处", chat="g-jl")
    assert "限3月18日" in msg.text


async def test_a_day_nobody_reported_says_so_at_1630(h: Harness) -> None:
    await run_day_until(h, MONDAY, 16, 30)
    text = h.expect_sent("【3月13日日报表】", chat="chuzhang").text
    assert "无报送数据" in text and "未发现问题隐患" not in text and "检查企业0家" not in text
