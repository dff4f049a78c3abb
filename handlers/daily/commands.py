"""Queries and steering from the chat: 日报表, 今日未报, 统计, 日点评 approval, 提级管理."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.audit import audit
from bot.config import Config, Person
from bot.directory import Directory
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.scope import province_wide
from bot.workdays import WorkCalendar
from handlers.daily.commentary import domain_of
from handlers.daily.consolidate import consolidated
from handlers.daily.figures import Figures, load_day, missing_units, registered_ids, reviewing_ids, unit_label
from handlers.daily.publish import final_text, publish_commentary
from handlers.daily.rounds import Slot, default_rounds, slots_for
from handlers.reports.parse.dates import find_date
from handlers.reports.parse.numbers import to_int
from models.daily import Commentary, EmergencyMode
from models.reports import NEEDS_REVIEW, InspectionReport

router = Router(__name__, "日报")


@router.message(Command("日报表", "汇总", usage="日报表 [日期]：某天的汇总日报表（文字+Excel）"))
async def daily_report(event: InboundMessage, args: str, session: AsyncSession, directory: Directory,
                       outbox: Outbox, calendar: WorkCalendar, app: Any) -> str:
    now = event.received_at
    day = find_date(args, now) if args else None
    day = day or calendar.previous_workday(now.date())
    rest = not calendar.is_workday(day)  # no report is due for a Sunday: never a list of everyone 未报
    label = f"{day.month}月{day.day}日"
    if rest and not (await session.exec(select(InspectionReport.id).where(
            col(InspectionReport.active), InspectionReport.report_date == day))).first():
        outbox.reply(event, f"{label}为休息日，不要求报送日报，也没有收到当天的日报。")
        return "daily_report_rest_day"
    text, path = await consolidated(session, directory, day, app.settings.var_dir / "files")
    outbox.reply(event, (f"（{label}为休息日，不要求报送，未报名单仅供参考。）\n" if rest else "") + text,
                 attachment=str(path))
    return "daily_report"


@router.message(Command("今日未报", "未报", "谁没报", "哪些没报", usage="今日未报：本轮还有哪些单位未报"))
async def not_reported(event: InboundMessage, args: str, session: AsyncSession, directory: Directory, outbox: Outbox,
                       cfg: Config, calendar: WorkCalendar) -> str:
    now = event.received_at
    slots = await slots_for(session, now.date(), cfg, calendar)
    if not slots:
        outbox.reply(event, "今天不是工作日，无需报送日报。")
        return "not_reported"
    slot = next((s for s in slots if now <= s.deadline), slots[-1])
    data = await load_day(session, slot.report_date, slot.round)
    missing = missing_units(directory, registered_ids(data.reports))
    region = directory.asked_region(event, args)  # in a city's group: its units, unless 全省 is asked for
    units = directory.reporting_units()
    if region is not None:
        def inside(u: Any) -> bool:
            return directory.regions.contains(region.key, u.region)
        missing, units = [u for u in missing if inside(u)], [u for u in units if inside(u)]
    where = region.key if region is not None else ""
    reviewing = reviewing_ids(data.reports)
    due = f"{slot.day.month}月{slot.day.day}日{slot.deadline.hour}:{slot.deadline.minute:02d}"
    late = "，已过截止时间" if now > slot.deadline else ""
    lines = [f"本轮催报：{slot.label()}检查情况日报（{due}截止{late}）。"]
    if missing:
        lines.append(f"{where}未报{len(missing)}个：{'、'.join(unit_label(u, reviewing) for u in missing)}")
    else:
        lines.append(f"{where}已全部报送（{len(units)}个单位）。")
    lines.append(await _in_today(session, now, slot, directory, region.key if region is not None else None))
    outbox.reply(event, "\n".join(lines))
    return "not_reported"


async def _in_today(session: AsyncSession, now: datetime, slot: Slot, directory: Directory, region: str | None) -> str:
    """What has come in today (of `region`, if given), apart from the round: a report of another date does not
    count for it."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (await session.exec(select(InspectionReport).where(
        col(InspectionReport.active), col(InspectionReport.posted_at) >= start, col(InspectionReport.posted_at) <= now)
        .order_by(col(InspectionReport.posted_at)))).all()
    if region is not None:
        rows = [r for r in rows if r.region and directory.regions.contains(region, r.region)]
    if not rows:
        return "今日尚未收到日报。"
    this_round = [r for r in rows if r.report_date == slot.report_date and r.round == slot.round]
    counted = [r for r in this_round if r.status != NEEDS_REVIEW]  # a 待核对 one is not counted as reported
    other: dict[str, list[str]] = {}
    for r in rows:
        if r not in this_round:
            label = f"{r.report_date.month}月{r.report_date.day}日" + (f"第{r.round}轮" if r.round > 1 else "")
            other.setdefault(label, []).append(r.unit_name or r.region or "未知单位")
    text = f"今日已收到日报{len(rows)}份，计入本轮{len(counted)}份"
    if len(this_round) > len(counted):
        text += f"（另{len(this_round) - len(counted)}份待核对，不计入）"
    for label, names in other.items():
        text += f"；{'、'.join(names)}报的是{label}检查情况，不计入本轮"
    return text + "。"


@router.message(Command("统计", usage="统计 [本周/上周/上上周/本月/上月/日期] [地区]：检查与隐患数字"))
async def stats(event: InboundMessage, args: str, session: AsyncSession, directory: Directory, outbox: Outbox) -> str:
    if place := directory.regions.unknown_place(args):  # never the whole province's figures for 北京市
        outbox.reply(event, f"没有找到地区“{place}”。请写本省的市县名称，如“统计 本周 吉林市”。")
        return "stats_unknown"
    for word in re.split(r"[\s，,、。；;]+", args.strip()):  # 统计 吉林: 吉林市, or the province?
        if word and directory.regions.resolve(word) is None and (like := directory.regions.like(word)):
            outbox.reply(event, f"没有找到“{word}”。您是指{'还是'.join(like)}？请写全称，如“统计 本周 {like[0]}”。")
            return "stats_unknown"
    start, end, label = _period(args, event.received_at)
    region = directory.asked_region(event, args)  # in a city's group: its city, unless 全省 is asked for
    rows = (await session.exec(select(InspectionReport).where(  # a 待核对 one is not counted as reported
        col(InspectionReport.active), InspectionReport.report_date >= start, InspectionReport.report_date <= end,
        InspectionReport.status != NEEDS_REVIEW))).all()
    if region is not None:
        rows = [r for r in rows if r.region and directory.regions.contains(region.key, r.region)]
    days = sorted({r.report_date for r in rows})
    total = Figures()
    for d in days:
        data = await load_day(session, d)
        for rep in data.reports:
            if rep in rows:
                total.add(data.figures(rep))
    where = region.key if region else "全省"
    span = f"{start.month}月{start.day}日" + ("" if start == end else f"—{end.month}月{end.day}日")
    head = f"{where}{label}（{span}）：" if label else f"{where}{span}："  # 统计 11月23日: one day, said once
    if not total.reports:  # nothing reported is not a clean result: say so, never 未发现问题隐患
        outbox.reply(event, head + "没有收到任何日报，无检查数据（不代表未发现问题隐患）。发“今日未报”查看未报单位。")
        return "stats"
    outbox.reply(event, head + f"报送{total.reports}份，{total.line()}。")
    return "stats"


def _period(args: str, now: datetime) -> tuple[date, date, str]:
    today = now.date()
    if "本月" in args:
        return today.replace(day=1), today, "本月"
    if "上月" in args or "上个月" in args:
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end, "上月"
    if "上上周" in args:
        start = today - timedelta(days=today.weekday() + 14)
        return start, start + timedelta(days=6), "上上周"
    if "上周" in args:
        start = today - timedelta(days=today.weekday() + 7)
        return start, start + timedelta(days=6), "上周"
    if "今日" in args or "今天" in args:
        return today, today, "今日"
    day = find_date(args, now)
    if day is not None:
        return day, day, ""
    return today - timedelta(days=today.weekday()), today, "本周"


def _may_comment(person: Person | None, domain: str, directory: Directory) -> bool:
    """That division's head, or a province-level admin (commentary speaks for the province)."""
    if person is None or not PUBLISH.allows(person):
        return False
    return ("admin" in person.roles and province_wide(directory, person)) or person.domain == domain


async def _latest_draft(session: AsyncSession, domain: str) -> Commentary | None:
    return (await session.exec(select(Commentary).where(Commentary.domain == domain, Commentary.status == "draft")
                               .order_by(col(Commentary.id).desc()))).first()


async def _draft_for(event: InboundMessage, person: Person | None, domain: str | None, verb: str, usage: str,
                     session: AsyncSession, outbox: Outbox, directory: Directory) -> Commentary | str:
    """The latest draft of a division the sender may comment on, or the outcome of telling them why not."""
    if domain is None:
        outbox.reply(event, usage)
        return "commentary_bad"
    if not _may_comment(person, domain, directory):
        outbox.reply(event, f"只有{domain}处长可以{verb}。")
        return "commentary_denied"
    c = await _latest_draft(session, domain)
    if c is None:
        outbox.reply(event, f"没有待发布的{domain}点评草稿。")
        return "commentary_none"
    return c


PUBLISH = Command("发布点评", prefix_only=False, usage="发布点评 领域：发布本处日点评", roles=("division_head", "admin"))
REMARK = Command("修改点评", "点评", prefix_only=False, usage="点评 领域：意见 / 修改点评 领域：全文：修改日点评草稿",
                 roles=("division_head", "admin"))
RAISE = Command("提级管理", "提级", usage="提级管理 N轮 [日期至日期] [时间 …]：每天多轮报送", roles=("admin", "duty_officer"))
LOWER = Command("解除提级", "取消提级", usage="解除提级：恢复每天一轮", roles=("admin", "duty_officer"))


@router.message(PUBLISH)
async def publish(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                  app: Any) -> str:
    domain = domain_of(args)
    usage = "请写明领域，如：发布点评 危化品（可选：煤矿、非煤矿山、危化品、工贸、烟花爆竹）"
    c = await _draft_for(event, person, domain, f"发布{domain}点评", usage, session, outbox, app.directory)
    if isinstance(c, str):
        return c
    assert person is not None
    publish_commentary(app, outbox, c, event.received_at, approved_by=person)
    session.add(c)
    audit(session, person.id, "commentary_publish", event.received_at, commentary=c.id, domain=domain)
    outbox.reply(event, f"{domain}点评已发布到处长工作群和省安委办工作群。")
    return "commentary_published"


@router.message(REMARK)
async def remark(event: InboundMessage, command: str, args: str, person: Person | None, session: AsyncSession,
                 outbox: Outbox, directory: Directory) -> str:
    body = re.sub(r"^[^：:]*[：:]", "", args, count=1).strip() if re.search(r"[：:]", args) else ""
    domain = domain_of(args) if body else None
    c = await _draft_for(event, person, domain, command, f"格式：{command} 危化品：内容", session, outbox, directory)
    if isinstance(c, str):
        return c
    if command == "修改点评":
        c.text = body
    else:
        c.remarks = [*c.remarks, body]
    session.add(c)
    outbox.reply(event, "已更新草稿：\n" + final_text(c, None) + f"\n确认后发“发布点评 {domain}”。")
    return "commentary_edited"


def _may_steer(person: Person | None, directory: Directory) -> bool:
    """提级管理 changes every unit's reporting rounds: duty officers and province-level admins."""
    if person is None or not RAISE.allows(person):
        return False
    return "duty_officer" in person.roles or ("admin" in person.roles and province_wide(directory, person))


@router.message(RAISE)
async def raise_level(event: InboundMessage, args: str, person: Person | None, session: AsyncSession,
                      outbox: Outbox, directory: Directory) -> str:
    if not _may_steer(person, directory):
        outbox.reply(event, "只有省级管理员或值班员可以启动提级管理。")
        return "emergency_denied"
    now = event.received_at
    n = to_int((re.search(r"(\d+|[一二三四五六七八九十两]+)\s*轮", args) or [None, "5"])[1]) or 5
    times = re.findall(r"(\d{1,2})[:：](\d{2})", args)
    if times:
        rounds = [{"remind": _minus30(int(h), int(m)), "deadline": f"{int(h):02d}:{m}"} for h, m in times]
    else:
        rounds = default_rounds(min(max(n, 1), 12))
    dates = [find_date(part, now) for part in re.split(r"至|到|—|-|~", args) if find_date(part, now)]
    start = dates[0] if dates else now.date()
    days = re.search(r"(\d+|[一二三四五六七八九十]+)\s*天", args)
    span = min(max(to_int(days.group(1)) or 1, 1), 31) if days else 3  # a huge 天数 is not a date overflow
    end = dates[1] if len(dates) > 1 else start + timedelta(days=span - 1)
    mode = EmergencyMode(start=start, end=end, rounds=rounds, reason=args, set_by=person.id, set_at=now)
    session.add(mode)
    audit(session, person.id, "emergency_on", now, start=start.isoformat(), end=end.isoformat(), rounds=rounds)
    deadlines = "、".join(r["deadline"] for r in rounds)
    outbox.reply(event, f"已启动提级管理：{start.month}月{start.day}日至{end.month}月{end.day}日，每日{len(rounds)}轮，"
                        f"截止时间 {deadlines}（提前半小时催报）。发“解除提级”结束。")
    return "emergency_on"


@router.message(LOWER)
async def lower_level(event: InboundMessage, person: Person | None, session: AsyncSession, outbox: Outbox,
                      directory: Directory) -> str:
    if not (LOWER.allows(person) and _may_steer(person, directory)):
        outbox.reply(event, "只有省级管理员或值班员可以解除提级管理。")
        return "emergency_denied"
    modes = (await session.exec(select(EmergencyMode).where(col(EmergencyMode.active)))).all()
    for m in modes:
        m.active = False
        session.add(m)
    audit(session, person.id, "emergency_off", event.received_at, modes=[m.id for m in modes])
    outbox.reply(event, "已解除提级管理，恢复每个工作日一轮日报。" if modes else "当前没有提级管理。")
    return "emergency_off"


def _minus30(h: int, m: int) -> str:
    total = max(h * 60 + m - 30, 0)
    return f"{total // 60:02d}:{total % 60:02d}"
