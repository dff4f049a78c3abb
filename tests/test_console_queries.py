"""The console's queries on the fake clock: the same data the chat commands read, shaped for a page."""
from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from bot.backlog import backlog, failed_sends, retry_failed
from bot.clock import local
from bot.democlock import clock_control, jump
from handlers.daily.rates import reporting_rates
from handlers.daily.today import today_board, unit_report
from handlers.hazards.ledger import LedgerFilter, by_domain, ledger, trail
from handlers.warnings.board import board, version, warning_list
from handlers.warnings.latency import latency_by_city
from handlers.warnings.urge import urge_now
from models.core import OutboxEntry
from models.reports import Hazard
from tests.conftest import both_backends
from tests.daily_helpers import simple_report
from tests.harness import Harness
from tests.test_warnings import JILIN, issue

MONDAY = date(2026, 3, 16)


@both_backends
async def test_today_board_names_each_units_standing(h: Harness) -> None:
    d = h.app.directory
    friday = date(2026, 3, 13)
    h.clock.set(local(MONDAY, 10))
    await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", friday))
    await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", friday, hazard="消防通道堵塞"))  # a correction
    h.clock.set(local(MONDAY, 15, 20))
    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", friday))
    unreadable = ("四平市应急管理局3月13日检查情况\n检查单位：四平市应急管理局\n受检单位：\n检查地点：铁西区\n"
                  "发现的问题隐患：消防器材过期\n检查人员：李明、王刚\n整改情况：已当场整改")
    assert await h.say("g-sp", "sp-bs", unreadable) == "report_review"
    h.clock.set(local(MONDAY, 15, 30))
    async with h.app.sessions() as s:
        b = await today_board(s, d, h.app.cfg, h.app.data["calendar"], h.clock.now())
    (rb,) = b.rounds
    assert rb.slot.report_date == friday and rb.seconds_left == -30 * 60
    by_unit = {u.unit.name: u for t in rb.tiles for u in t.units}
    assert by_unit["龙潭区应急管理局"].label == "已更正"
    assert by_unit["梨树县应急管理局"].label == "迟报"
    assert by_unit["四平市应急管理局"].label == "待核对"
    assert rb.counts["missing"] == len(d.reporting_units()) - 3
    assert next(t for t in rb.tiles if t.city == "四平市").reported == 1  # 梨树县 in, 四平市 待核对
    cities = [t.city for t in rb.tiles]
    assert cities[0] == "省本级" and "吉林市" in cities
    unit = by_unit["龙潭区应急管理局"].unit
    async with h.app.sessions() as s:
        view = await unit_report(s, unit.id, rb.slot)
    assert view is not None and "消防通道堵塞" in view.raw_text
    (hz,) = [x for hs in view.data.hazards.values() for x in hs]
    assert hz.text == "消防通道堵塞"


async def test_no_rounds_on_a_day_off(h: Harness) -> None:
    async with h.app.sessions() as s:
        b = await today_board(s, h.app.directory, h.app.cfg, h.app.data["calendar"], local(date(2026, 3, 15), 10))
    assert b.rounds == []


@both_backends
async def test_board_pages_filters_and_counts(h: Harness) -> None:
    wid = await issue(h)
    async with h.app.sessions() as s:
        before = await version(s, wid)
    await h.say("g-jl", JILIN[0], "收到，已转移群众36人")
    await h.say("g-jl", JILIN[1], "收到")
    async with h.app.sessions() as s:
        assert await version(s, wid) != before
        b = await board(s, h.app, wid, page=1, size=4)
        silent = await board(s, h.app, wid, silent_only=True, size=100)
        lines = await warning_list(s)
    assert b is not None and silent is not None
    assert (b.total, b.answered, b.silent, b.pages, len(b.rows)) == (11, 2, 9, 3, 4)
    first = b.rows[0]
    assert first.row.state == "已回应" and first.obligation.response and "转移群众36人" in first.obligation.response
    assert first.row.ack_s == 0 and first.row.name and first.unit
    assert {a.channel for a in first.attempts} >= {"群内@", "私信"}
    assert b.rows[2].next_step and b.rows[2].next_due is not None
    assert len(silent.rows) == 9 and all(r.row.state == "待回应" for r in silent.rows)
    assert lines[0].warning.id == wid and (lines[0].total, lines[0].answered) == (11, 2)


async def test_urge_now_mentions_the_silent_once_per_group(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN[:3]:
        await h.say("g-jl", pid, "收到")
    h.new()
    assert await urge_now(h.app, wid, h.clock.now(), by="liwd") == 8
    await h.drain()
    sent = h.new()
    group = [m for m in sent if m.chat_id == "g-jl"]
    assert len(group) == 1 and {m.id for m in group[0].mentions} == set(JILIN[3:])
    assert {m.chat_id for m in sent if m.chat_id.startswith("dm:")} == {f"dm:{p}" for p in JILIN[3:]}
    async with h.app.sessions() as s:
        b = await board(s, h.app, wid, silent_only=True)
    assert b is not None and all(any(a.channel == "私信" and a.count == 2 for a in r.attempts) for r in b.rows)


async def test_rolling_lines_reach_the_chat_it_was_issued_from(h: Harness) -> None:
    await issue(h)  # issued in the 处长工作群, aimed at 吉林市
    await h.say("g-jl", JILIN[0], "收到")
    await h.tick(seconds=61)
    h.expect_sent("叫应#1 已回应 1/11", chat="g-jl")
    h.expect_sent("叫应#1 已回应 1/11", chat="chuzhang")


@both_backends
async def test_ledger_filters_and_trail(h: Harness) -> None:
    friday = date(2026, 3, 13)
    await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", friday))
    await h.say("g-sp", "ls-bs", simple_report("梨树县应急管理局", friday, hazard="安全出口锁闭"))
    async with h.app.sessions() as s:
        hz = (await s.exec(select(Hazard).where(Hazard.region == "吉林市龙潭区"))).one()
    await h.say("g-jl", "ltq-bs", f"@应急助手 销号 {hz.id} 已更换报警器并检定合格")
    today = h.clock.now().date()
    d = h.app.directory
    async with h.app.sessions() as s:
        jilin = await ledger(s, d, LedgerFilter(region="吉林市"), today)
        closed = await ledger(s, d, LedgerFilter(status="closed"), today)
        late = await ledger(s, d, LedgerFilter(overdue=True), today + timedelta(days=30))
        none = await ledger(s, d, LedgerFilter(domain="煤矿"), today)
        found = await trail(s, d, hz.id)
        domains = await by_domain(s, friday)
    assert [x.id for x in jilin.rows] == [hz.id] and closed.total == 1 and none.total == 0
    assert [x.region for x in late.rows] == ["梨树县"]
    assert found is not None
    _, lines = found
    assert [ln.what for ln in lines] == ["报送发现", "销号"]
    assert lines[1].why == "已更换报警器并检定合格" and "ltq-bs" not in lines[1].who and lines[1].who
    assert sum(f for f, _ in domains.values()) == 2 and sum(r for _, r in domains.values()) == 1


async def test_rates_and_latency(h: Harness) -> None:
    friday = date(2026, 3, 13)
    await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", friday))
    wid = await issue(h)
    h.clock.advance(minutes=2)
    await h.say("g-jl", JILIN[0], "收到")
    async with h.app.sessions() as s:
        rates = await reporting_rates(s, h.app.directory, h.app.data["calendar"], MONDAY)
        latency = await latency_by_city(s, h.app.directory, h.clock.now() - timedelta(days=30))
    got, owed = rates["吉林市"]
    cal, d = h.app.data["calendar"], h.app.directory
    days = len(cal.workdays(MONDAY - timedelta(days=30), MONDAY - timedelta(days=1)))
    assert got == 1 and owed == days * sum(d.city_of(u.region) == "吉林市" for u in d.reporting_units())
    lat = latency["吉林市"]
    assert (lat.named, lat.answered, lat.within_rule) == (11, 1, 1) and lat.median_s is not None
    assert wid


async def test_backlog_and_retry(h: Harness) -> None:
    await h.fail_a_reply("g-jl", "jl-bs")  # the platform refuses the reply for good: the row fails
    async with h.app.sessions() as s:
        (acc,) = await backlog(s, h.app.cfg.outbox)
        (failed,) = await failed_sends(s)
    assert acc.failed == 1 and acc.rate_per_minute == h.app.cfg.outbox.rate_per_minute
    assert acc.waiting == 0  # the admins were told in the same pass
    async with h.app.sessions() as s:
        assert await retry_failed(s, failed.id, h.clock.now())
        await s.commit()
        assert not await retry_failed(s, failed.id, h.clock.now())
    await h.drain()
    h.expect_sent("我是应急助手", chat="g-jl")
    async with h.app.sessions() as s:  # the failed row says where it went; the copy went out
        old = await s.get(OutboxEntry, failed.id)
        assert old.status == "retried" and "已重新发送" in (old.last_error or "")
        copy = (await s.exec(select(OutboxEntry).where(OutboxEntry.id > failed.id, OutboxEntry.text == old.text))).one()
        assert copy.status == "sent" and copy.chat_id == old.chat_id


async def test_demo_clock_jumps_run_what_falls_due(h: Harness) -> None:
    assert clock_control(h.app)
    when = await jump(h.app, "14:00")
    assert when == local(MONDAY, 14)
    await h.drain()
    h.expect_sent("未报送3月13日日报", chat="g-jl")
    assert await jump(h.app, "+5") == local(MONDAY, 14, 5)
    assert await jump(h.app, "14:00") == local(date(2026, 3, 17), 14)  # today's is past: the next workday's
    assert await jump(h.app, "9:99") is None
