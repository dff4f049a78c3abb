"""日报表 end to end: officials post reports in the groups; the bot answers and keeps records."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import col, select

from bot.events import Attachment
from models.core import RawMessage
from models.reports import Hazard, HazardEvent, InspectionRecord, InspectionReport
from tests.conftest import both_backends
from tests.harness import Harness

LONGTAN = (
    "吉林市龙潭区应急管理局3月13日监督检查情况\n【检查单位】龙潭区应急管理局危化股\n【受检单位】吉林市丰源化工有限公司\n"
    "【检查地点】龙潭区遵义东路188号\n【发现的问题隐患】1.罐区可燃气体报警器未按期检定；2.装卸区静电接地报警仪损坏；"
    "3.部分岗位安全警示标识缺失\n【检查人员】王立群、刘晓东\n【整改情况】第3项已当场整改，第1、2项责令限期7日内整改"
)


async def reports(h: Harness) -> list[InspectionReport]:
    async with h.app.sessions() as s:
        return list((await s.exec(select(InspectionReport).order_by(col(InspectionReport.id)))).all())


@both_backends
async def test_report_is_registered_and_answered_in_one_line(h: Harness) -> None:
    assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"
    msg = h.expect_sent("已登记 吉林市龙潭区 3月13日：检查企业1家，隐患3处（已整改1处）。", chat="g-jl")
    assert "待整改2处" in msg.text and msg.mentions[0].id == "ltq-bs"
    [rep] = await reports(h)
    assert rep.unit_id == "ltq-yjj" and rep.report_date == date(2026, 3, 13) and not rep.late and rep.active
    async with h.app.sessions() as s:
        rec = (await s.exec(select(InspectionRecord))).one()
        hazards = (await s.exec(select(Hazard).order_by(col(Hazard.id)))).all()
        events = (await s.exec(select(HazardEvent))).all()
    assert rec.domain == "危化品" and rec.inspectors == ["王立群", "刘晓东"]
    assert [hz.status for hz in hazards] == ["open", "open", "rectified"]
    assert hazards[0].deadline == date(2026, 3, 20) and hazards[0].region == "吉林市龙潭区"
    assert len(events) == 3


@both_backends
async def test_repost_replaces_and_keeps_history(h: Harness) -> None:
    await h.say("g-jl", "ltq-bs", LONGTAN)
    assert await h.say("g-jl", "ltq-bs", LONGTAN.replace("第3项已当场整改，第1、2项责令限期7日内整改", "均已当场整改")) == "report_corrected"
    h.expect_sent("已更正 吉林市龙潭区 3月13日：检查企业1家，隐患3处（已整改3处）。")
    old, new = await reports(h)
    assert not old.active and old.superseded_by == new.id and new.active and new.corrected
    async with h.app.sessions() as s:
        statuses = [hz.status for hz in (await s.exec(select(Hazard).order_by(col(Hazard.id)))).all()]
    assert statuses == ["superseded"] * 3 + ["rectified"] * 3


@both_backends
async def test_a_correction_names_the_open_hazards_it_leaves_out(h: Harness) -> None:
    await h.say("g-jl", "ltq-bs", LONGTAN)  # #1, #2 open, #3 rectified
    fewer = LONGTAN.replace("2.装卸区静电接地报警仪损坏；", "")
    assert await h.say("g-jl", "ltq-bs", fewer) == "report_corrected"
    reply = h.expect_sent("已更正 吉林市龙潭区 3月13日").text
    assert "原#2在更正后的日报里没有，已撤销" in reply and "原#1" not in reply  # #1 is there again, as #4
    assert await h.say("g-jl", "ltq-bs", fewer) == "report_corrected"  # the same again: nothing left out
    assert "已撤销" not in h.expect_sent("已更正 吉林市龙潭区 3月13日").text
    async with h.app.sessions() as s:
        statuses = [hz.status for hz in (await s.exec(select(Hazard).order_by(col(Hazard.id)))).all()]
    assert statuses[:3] == ["superseded"] * 3


@both_backends
async def test_a_supplement_never_replaces_the_days_report(h: Harness) -> None:
    """`…检查情况补充：` with one more enterprise would, stored, replace the day's report and void its hazards:
    it is refused with what to do; a 补充 with nothing before it is a report like any other."""
    extra = ("吉林市龙潭区应急管理局3月13日检查情况补充：受检单位：吉林市宏达木业有限公司；检查地点：龙潭区；"
             "发现的问题隐患：除尘器未设泄爆装置；检查人员：王立群；整改情况：限期7日内整改")
    assert await h.say("g-jl", "ltq-bs", extra) == "report"  # nothing to replace yet
    await h.say("g-jl", "ltq-bs", LONGTAN)  # the full report replaces it, as a correction does
    assert await h.say("g-jl", "ltq-bs", extra) == "report_supplement"
    late_one = extra.replace("检查情况补充：", "监督检查情况补报\n")  # 补报 to a day already reported: the same
    assert await h.say("g-jl", "ltq-bs", late_one) == "report_supplement"
    # 补报 as words, not as the title: `收到，马上补报。` then the report, a correction like any re-post
    assert await h.say("g-jl", "ltq-bs", "收到，马上补报。" + LONGTAN) == "report_corrected"
    reply = h.expect_sent("吉林市龙潭区 3月13日已有日报，本条“补充”未登记").text
    assert "并入原日报后整条重发" in reply
    live = [r for r in await reports(h) if r.active]
    assert len(live) == 1 and live[0].enterprises in (None, 1)
    async with h.app.sessions() as s:
        hazards = (await s.exec(select(Hazard).where(Hazard.report_id == live[0].id))).all()
    assert sorted(hz.status for hz in hazards) == ["open", "open", "rectified"]


async def test_rectified_by_total_but_not_by_item_is_explained(h: Harness) -> None:
    """当场整改两处 without saying which: the four stay open (to be closed one by one), and the reply says why
    (it said 隐患4处（已整改2处） and then 待整改4处)."""
    text = ("梨树县应急局：3月13日我局派出两个检查组、五人，检查企业三家，发现问题隐患四处，当场整改两处，其余两处已下达整改指令书。\n"
            "1.梨树县丰收粮油有限公司：有限空间未设置安全警示标识；筒仓作业未落实审批。检查人员：马春雷、朱文博\n"
            "2.梨树县宏大烟花爆竹批发有限公司：库房超量储存；防雷检测报告过期。检查人员：胡振宇、郭亮")
    await h.say("g-sp", "ls-bs", text)
    reply = h.expect_sent("隐患4处（已整改2处）", chat="g-sp").text
    assert "文中称已整改2处，但未写明是哪几处，以下4处暂列待整改" in reply and "待整改4处" not in reply


async def test_a_rest_days_report_is_never_late(h: Harness) -> None:
    h.clock.advance(hours=7)  # Monday 16:00, past the 15:00 deadline
    sunday = LONGTAN.replace("3月13日", "3月15日")
    assert await h.say("g-jl", "ltq-bs", sunday) == "report"
    assert "逾期" not in h.expect_sent("已登记 吉林市龙潭区 3月15日").text
    assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"  # Friday's is due today at 15:00: late
    assert "逾期报送" in h.expect_sent("已登记 吉林市龙潭区 3月13日").text


async def test_same_message_twice_is_stored_once(h: Harness) -> None:
    event = h.event("g-jl", "ltq-bs", LONGTAN, message_id="wx-report-1")
    assert await h.app.feed(event) == "report"
    assert await h.app.feed(event) == "duplicate"
    assert len(await reports(h)) == 1


async def test_late_report_is_kept_and_marked(h: Harness) -> None:
    # the 3月13日 (Friday) report was due Monday 3月16日 15:00
    h.clock.advance(hours=7)  # Monday 16:00
    await h.say("g-jl", "ltq-bs", LONGTAN)
    h.expect_sent("逾期报送，已标记")
    assert (await reports(h))[0].late


async def test_missing_fields_are_named_with_how_to_fix(h: Harness) -> None:
    text = "辽源市东辽县应急管理局3月13日检查情况\n检查单位：东辽县应急管理局\n受检单位：东辽县鑫旺建材有限公司\n发现问题隐患：破碎机皮带防护罩缺失\n整改情况：已责令限期3日内整改"
    await h.say("g-ly", "dl-bs", text)
    msg = h.expect_sent("已登记 东辽县 3月13日")
    assert "请补充：缺少检查人员。补全后整条重发即自动更正。" in msg.text


async def test_unknown_sender_report_is_kept_and_told_how_to_register(h: Harness) -> None:
    assert await h.say("g-jl", "wxid_new", LONGTAN) == "report_unknown_sender"
    h.expect_sent("请联系管理员登记为报送员后重发")
    assert await reports(h) == []
    async with h.app.sessions() as s:
        raw = (await s.exec(select(RawMessage))).one()
    assert raw.text == LONGTAN and not raw.sender_known


async def test_chatter_and_acks_are_not_reports(h: Harness) -> None:
    for text in ["收到，按要求办理", "梨树、伊通今天的日报还没报，请抓紧，15点前报送", "日报模板是哪一版？上周发的那个还是今天的？"]:
        assert await h.say("g-sp", "ls-bs", text) == "ignored"
    assert await reports(h) == []


async def test_template_command(h: Harness) -> None:
    await h.say("g-jl", "ltq-bs", "@应急助手 模板")
    h.expect_sent("【日报模板】")


async def test_xlsx_attachment_is_a_report(h: Harness, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["桦甸市应急管理局3月13日监督检查情况"])
    ws.append(["检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况"])
    ws.append(["桦甸市应急管理局", "桦甸市金鼎矿业有限公司", "八道河子镇", "井下避灾路线标识不清", "张宏伟、李俊峰", "限期5日内整改"])
    path = tmp_path / "桦甸日报.xlsx"
    wb.save(path)
    assert await h.say("g-jl", "hd-bs", "", attachments=[Attachment("桦甸日报.xlsx", str(path))]) == "report"
    h.expect_sent("已登记 桦甸市 3月13日：检查企业1家，隐患1处（已整改0处）。")
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"not a workbook")
    assert await h.say("g-jl", "hd-bs", "", attachments=[Attachment("坏.xlsx", str(broken))]) == "report_unreadable"
    h.expect_sent("附件无法识别为日报表")


@both_backends
async def test_a_closed_hazard_stays_closed_when_its_report_is_corrected(h: Harness) -> None:
    """销号, then the report posted again in full (as the bot asks, 补全后整条重发): the same hazard is still
    closed under its new number, with its 说明; the others are open as the new text says. Alone (the
    normal chain) and in a burst (the lane) alike."""
    from tests.test_report_lane import one_batch

    assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"
    assert await h.say("g-jl", "ltq-bs", "@应急助手 销号 1 已送检合格") == "closed"
    fixed = LONGTAN.replace("王立群、刘晓东", "王立群、刘晓东、张伟")
    assert await h.say("g-jl", "ltq-bs", fixed) == "report_corrected"
    msg = h.expect_sent("已更正 吉林市龙潭区 3月13日")
    assert "已销号的仍为销号：#4（原#1）" in msg.text and "待整改1处，编号#5" in msg.text
    assert await one_batch(h.app, [h.event("g-jl", "ltq-bs", fixed.replace("张伟", "李强"), message_id="again")]) \
        == ["report_corrected"]
    await h.drain()
    h.expect_sent("已销号的仍为销号：#7（原#4）")
    async with h.app.sessions() as s:
        hazards = {hz.id: hz for hz in (await s.exec(select(Hazard))).all()}
        history = [(e.action, e.note) for e in (await s.exec(
            select(HazardEvent).where(HazardEvent.hazard_id == 7).order_by(col(HazardEvent.id)))).all()]
    assert [hazards[i].status for i in (7, 8, 9)] == ["closed", "open", "rectified"]
    assert hazards[7].evidence == "已送检合格" and hazards[7].closed_by == "ltq-bs" and hazards[7].deadline is None
    assert history == [("found", "第3项已当场整改，第1、2项责令限期7日内整改"), ("closed", "沿用#4的销号：已送检合格")]
    assert await h.say("g-jl", "ltq-bs", "@应急助手 隐患 龙潭区") == "hazard_list"
    listed = h.expect_sent("龙潭区未整改隐患1处").text
    assert "#8" in listed and "#7" not in listed
    # the closed hazard worded otherwise in the next correction: open again, and the reply says why
    assert await h.say("g-jl", "ltq-bs", fixed.replace("未按期检定", "未按期进行检定")) == "report_corrected"
    msg = h.expect_sent("原#7已销号，但更正后的日报里写法有变或已删去，销号不再沿用")
    assert "待整改2处，编号#10、#11" in msg.text


async def test_a_report_dated_after_it_was_sent_is_not_registered(h: Harness) -> None:
    """A slip (3月20日 sent on 3月16日): not registered, as the corrected re-post would be another day's report and
    the wrong one would stay with its hazards."""
    from tests.test_report_lane import one_batch

    assert await h.say("g-jl", "ltq-bs", LONGTAN.replace("3月13日", "3月20日")) == "report_future_date"
    h.expect_sent("检查日期3月20日晚于今天（3月16日），未登记。请改正日期后整条重发。")
    assert await h.say("g-jl", "ltq-bs", LONGTAN.replace("3月13日", "2027年3月13日")) == "report_future_date"
    h.expect_sent("检查日期2027年3月13日晚于今天")
    assert await one_batch(h.app, [h.event("g-jl", "ltq-bs", LONGTAN.replace("3月13日", "3月17日"), message_id="b")]) \
        == ["report_future_date"]
    assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"
    assert len(await reports(h)) == 1
