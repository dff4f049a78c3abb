"""Unsure parses are not registered as empty: the reporter is told what could not be read, the report is kept as
待核对 and not counted as reported until a readable re-post; hazard numbers and per-item deadlines as written."""
from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from handlers.daily.figures import load_day
from handlers.reports.ingest import reports_to_review
from models.reports import NEEDS_REVIEW, Hazard, InspectionReport
from tests.conftest import both_backends
from tests.harness import Harness

NARRATIVE = ("梨树县应急管理局3月13日检查情况：李明、王刚到梨树县某烟花爆竹公司仓库检查，"
             "发现超量储存、防雷检测报告过期")
READABLE = ("梨树县应急管理局3月13日检查情况\n受检单位：梨树县宏大烟花爆竹批发有限公司\n"
            "发现的问题隐患：1.库房超量储存；2.防雷检测报告过期\n检查人员：李明、王刚\n整改情况：第1项当场整改，第2项责令7日内整改")


async def _reports(h: Harness) -> list[InspectionReport]:
    async with h.app.sessions() as s:
        return list((await s.exec(select(InspectionReport).order_by(col(InspectionReport.id)))).all())


@both_backends
async def test_unreadable_enterprise_is_kept_as_needs_review_and_not_counted(h: Harness) -> None:
    text = ("梨树县应急管理局3月13日检查情况\n检查单位：梨树县应急管理局\n受检单位：\n检查地点：梨树镇\n"
            "发现的问题隐患：消防器材过期\n检查人员：李明、王刚\n整改情况：已当场整改")
    assert await h.say("g-sp", "ls-bs", text) == "report_review"
    msg = h.expect_sent("日报未能读全：缺少受检单位", chat="g-sp")
    assert "已登记" not in msg.text and "待核对" in msg.text and "【日报模板】" in msg.text
    [rep] = await _reports(h)
    assert rep.status == NEEDS_REVIEW and rep.review_reason == "缺少受检单位" and "缺少受检单位" in rep.problems
    async with h.app.sessions() as s:
        assert [r.id for r in await reports_to_review(s)] == [rep.id]
    await h.say("chuzhang", "liuql", "@应急助手 今日未报")
    assert "梨树县应急管理局（待核对）" in h.expect_sent("未报").text
    await h.say("chuzhang", "liuql", "@应急助手 日报表 3月13日")  # not counted as reported there either
    summary = h.expect_sent("【3月13日日报表】").text
    assert "已报0个" in summary and "梨树县应急管理局（待核对）" in summary
    await h.say("chuzhang", "liuql", "@应急助手 统计 3月13日")  # nor in 统计
    h.expect_sent("全省3月13日：没有收到任何日报")
    # a readable re-post fixes it: registered, no longer listed
    assert await h.say("g-sp", "ls-bs", READABLE) == "report_corrected"
    old, new = await _reports(h)
    assert not old.active and new.status == "registered" and new.review_reason is None
    await h.say("chuzhang", "liuql", "@应急助手 今日未报")
    assert "梨树县" not in h.expect_sent("未报").text


@both_backends
async def test_a_garbled_re_post_does_not_replace_a_readable_report(h: Harness) -> None:
    assert await h.say("g-sp", "ls-bs", READABLE) == "report"
    garbled = "梨树县应急管理局3月13日检查情况\n检查单位：梨树县应急管理局\n受检单位：\n检查人员："
    assert await h.say("g-sp", "ls-bs", garbled) == "report_review"
    assert "原日报仍有效，本条暂存为待核对" in h.expect_sent("日报未能读全", chat="g-sp").text
    good, draft = await _reports(h)
    assert good.active and good.status == "registered" and draft.active and draft.status == NEEDS_REVIEW
    async with h.app.sessions() as s:
        statuses = sorted(hz.status for hz in (await s.exec(select(Hazard).where(Hazard.report_id == good.id))).all())
    assert statuses == ["open", "rectified"]  # the readable report's hazards stay on the ledger
    await h.say("chuzhang", "liuql", "@应急助手 今日未报")
    listed = h.expect_sent("未报").text
    assert "梨树县" not in listed  # still counted as reported, once
    assert "计入本轮1份（另1份待核对，不计入）" in listed
    async with h.app.sessions() as s:
        assert [r.id for r in (await load_day(s, date(2026, 3, 13))).reports] == [good.id]
        assert await reports_to_review(s) == []  # nothing to chase: the unit has reported
    # a readable re-post replaces both
    assert await h.say("g-sp", "ls-bs", READABLE) == "report_corrected"
    old, old_draft, new = await _reports(h)
    assert not old.active and not old_draft.active and new.active and new.status == "registered"
    assert old.superseded_by == new.id and old_draft.superseded_by == new.id


async def test_a_narrative_with_hazards_is_never_registered_as_empty(h: Harness) -> None:
    text = "梨树县应急管理局3月13日检查情况：检查人员李明、王刚对辖区烟花爆竹仓库开展检查，发现超量储存、防雷检测报告过期等问题"
    assert await h.say("g-sp", "ls-bs", text) == "report_review"
    msg = h.expect_sent("未能读出受检单位和隐患明细")
    assert "0家" not in msg.text
    assert (await _reports(h))[0].status == NEEDS_REVIEW


async def test_fewer_records_than_stated_is_needs_review(h: Harness) -> None:
    text = ("梨树县应急管理局3月13日：检查企业3家，未发现问题隐患。\n"
            "1.梨树县丰收粮油有限公司：未发现问题。检查人员：马春雷\n"
            "另有梨树县宏大加油站、梨树县东方化工有限公司情况正常")
    assert await h.say("g-sp", "ls-bs", text) == "report_review"
    h.expect_sent("只读出1家企业，少于所报3家")


async def test_empty_hazard_field_is_a_problem(h: Harness) -> None:
    text = ("梨树县应急管理局3月13日检查情况\n受检单位：梨树县丰收粮油有限公司\n发现的问题隐患：\n检查人员：马春雷、朱文博\n整改情况：")
    assert await h.say("g-sp", "ls-bs", text) == "report"
    msg = h.expect_sent("已登记 梨树县 3月13日")
    assert '未写明隐患，如无隐患请写"未发现问题隐患"' in msg.text


async def test_open_hazard_numbers_are_listed_as_they_are_and_per_item_deadlines_stored(h: Harness) -> None:
    text = READABLE.replace("1.库房超量储存；2.防雷检测报告过期", "1.库房超量储存；2.防雷检测报告过期；3.灭火器失效").replace(
        "第1项当场整改，第2项责令7日内整改", "第2项当场整改，第1项责令7日内整改，第3项限期15日整改")
    assert await h.say("g-sp", "ls-bs", text) == "report"
    async with h.app.sessions() as s:
        hz = list((await s.exec(select(Hazard).order_by(col(Hazard.id)))).all())
    assert [x.status for x in hz] == ["open", "rectified", "open"]
    assert hz[0].deadline == date(2026, 3, 20) and hz[2].deadline == date(2026, 3, 28)
    msg = h.expect_sent("待整改2处")
    assert f"编号#{hz[0].id}、#{hz[2].id}" in msg.text and "–" not in msg.text
    await h.say("g-sp", "ls-bs", "@应急助手 隐患清单")
    listing = h.expect_sent("库房超量储存").text
    assert "未定期限" not in listing.split("库房超量储存")[1].split("\n")[0]


async def test_a_table_row_without_enterprise_is_needs_review(h: Harness) -> None:
    text = ("梨树县应急管理局3月13日监督检查日报表\n检查单位\t受检单位\t检查地点\t发现的问题隐患\t检查人员\t整改情况\n"
            "梨树县应急管理局\t\t梨树镇\t消防器材过期\t李明、王刚\t已当场整改\n"
            "梨树县应急管理局\t梨树县丰收粮油有限公司\t梨树镇\t\t李明、王刚\t")
    assert await h.say("g-sp", "ls-bs", text) == "report_review"
    msg = h.expect_sent("缺少受检单位")
    assert "已登记" not in msg.text
    [rep] = await _reports(h)
    assert '未写明隐患，如无隐患请写"未发现问题隐患"' in rep.problems
