"""The day, run by one idempotent job: reminders, deadline notices, the consolidated 日报表,
日点评 drafts and their approval deadline, and the morning list of overdue hazards."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import local
from bot.directory import Directory
from bot.once import claim
from bot.outbox import Outbox
from handlers.daily.commentary import DIVISIONS, draft
from handlers.daily.consolidate import consolidated
from handlers.daily.figures import load_day, missing_units, registered_ids
from handlers.daily.publish import publish_commentary, send_draft
from handlers.daily.rounds import Slot, slots_for
from handlers.hazards.overdue import overdue_by_city
from models.daily import Commentary
from models.db import transaction

CATCH_UP = timedelta(hours=2)  # after a restart, a step this late still runs; later ones are skipped


async def daily_tick(app: Any, now: datetime) -> None:
    today = now.date()
    await _calendar_warning(app, now)
    async with transaction(app.sessions) as session:
        slots = await slots_for(session, today, app.cfg, app.data["calendar"])
    for slot in slots:
        await _step(app, f"remind:{slot.key}", slot.remind, now, lambda s, o, sl=slot: remind(app, s, o, sl))
        await _step(app, f"deadline:{slot.key}", slot.deadline, now, lambda s, o, sl=slot: deadline_notice(app, s, o, sl))
    if not app.data["calendar"].is_workday(today):
        return
    sched = app.cfg.schedule
    report_date = app.data["calendar"].previous_workday(today)
    await _step(app, f"consolidate:{today}", local(today, sched.consolidate.hour, sched.consolidate.minute), now,
                lambda s, o: publish_consolidated(app, s, o, report_date), window=timedelta(hours=8))
    for i, t in enumerate(sched.commentary, 1):
        await _step(app, f"commentary:{today}:{i}", local(today, t.hour, t.minute), now,
                    lambda s, o, i=i: draft_commentaries(app, s, o, report_date, i, now), window=timedelta(hours=6))
    await _step(app, f"commentary_due:{today}", local(today, sched.commentary_approve_by.hour,
                                                       sched.commentary_approve_by.minute), now,
                lambda s, o: commentary_deadline(app, s, o, report_date, now), window=timedelta(hours=6))
    await _step(app, f"overdue:{today}", local(today, sched.overdue_list.hour, sched.overdue_list.minute), now,
                lambda s, o: overdue_lists(app, s, o, today), window=timedelta(hours=8))


async def _step(app: Any, key: str, when: datetime, now: datetime, action: Any, window: timedelta = CATCH_UP) -> None:
    if now < when:
        return
    async with transaction(app.sessions) as session:
        late = now - when
        if not await claim(session, key, now, late_s=int(late.total_seconds())):
            return
        if late > window:
            app.log.warning("step_skipped_too_late", step=key, late_s=int(late.total_seconds()))
            return
        if late > timedelta(minutes=2):
            app.log.warning("step_late", step=key, late_s=int(late.total_seconds()))
        outbox = Outbox(session, app.data)
        await action(session, outbox)
    app.outbox_sender.wake()


async def _reported(session: AsyncSession, slot: Slot) -> set[str | None]:
    data = await load_day(session, slot.report_date, slot.round)
    return registered_ids(data.reports)


async def remind(app: Any, session: AsyncSession, outbox: Outbox, slot: Slot) -> None:
    """催报: per region group, one message @-mentioning the reporters of units not yet reported."""
    d: Directory = app.directory
    missing = missing_units(d, await _reported(session, slot))
    by_group: dict[str, list] = defaultdict(list)
    for unit in missing:
        group = d.region_group(unit.region) or next(iter(d.groups_with_role("anwei")), None)
        if group is not None:
            by_group[group.id].append(unit)
    due = f"{slot.deadline.hour}:{slot.deadline.minute:02d}"
    for gid, units in by_group.items():
        reporters = [p for u in units for p in d.reporters_of(u.id)]
        names = "、".join(u.name for u in units)
        outbox.to_group(d.groups[gid], f"还有{len(units)}个单位未报送{slot.label()}日报：{names}。请{due}前报送。",
                        mention=reporters, reason="remind")


async def deadline_notice(app: Any, session: AsyncSession, outbox: Outbox, slot: Slot) -> None:
    """截止: units still missing, to their city's group and to the 处长工作群."""
    d: Directory = app.directory
    missing = missing_units(d, await _reported(session, slot))
    if not missing:
        for g in d.groups_with_role("chuzhang"):
            outbox.to_group(g, f"{slot.label()}日报已全部按时报送（{len(d.reporting_units())}个单位）。", reason="deadline")
        return
    due = f"{slot.deadline.hour}:{slot.deadline.minute:02d}"
    by_city: dict[str, list] = defaultdict(list)
    for unit in missing:
        group = d.region_group(unit.region)
        if group is not None:
            by_city[group.id].append(unit)
    for gid, units in by_city.items():
        outbox.to_group(d.groups[gid], f"截至{due}，{'、'.join(u.name for u in units)}未报送{slot.label()}日报，"
                                       "请立即补报（逾期报送将标注）。", reason="deadline")
    names = "、".join(u.name for u in missing)
    for g in d.groups_with_role("chuzhang"):
        outbox.to_group(g, f"截至{due}，{len(missing)}个单位未报送{slot.label()}日报：{names}", reason="deadline")


async def publish_consolidated(app: Any, session: AsyncSession, outbox: Outbox, report_date: date) -> None:
    text, path = await consolidated(session, app.directory, report_date, app.settings.var_dir / "files")
    for g in app.directory.groups_with_role("chuzhang"):
        outbox.to_group(g, text, attachment=str(path), reason="consolidated")


async def draft_commentaries(app: Any, session: AsyncSession, outbox: Outbox, report_date: date, slot: int,
                             now: datetime) -> None:
    data = await load_day(session, report_date)
    for domain in DIVISIONS:
        heads = app.directory.division_heads(domain)
        if not heads:
            continue
        c = await draft(session, app.directory, data, domain, now, slot)
        if c is None:
            continue
        session.add(c)
        await session.flush()
        send_draft(app, outbox, c, heads)


async def commentary_deadline(app: Any, session: AsyncSession, outbox: Outbox, report_date: date, now: datetime) -> None:
    """Drafts nobody approved: post as drafted, or post nothing and remind, as configured."""
    from sqlmodel import select

    drafts = (await session.exec(select(Commentary).where(Commentary.report_date == report_date,
                                                          Commentary.status == "draft"))).all()
    for c in drafts:
        if app.cfg.schedule.commentary_unapproved == "post_draft":
            publish_commentary(app, outbox, c, now, approved_by=None)
        else:
            for head in app.directory.division_heads(c.domain):
                outbox.to_person(head, f"{c.domain}日点评尚未发布，请回复“发布点评 {c.domain}”。", reason="commentary")
        session.add(c)


async def overdue_lists(app: Any, session: AsyncSession, outbox: Outbox, today: date) -> None:
    for city, hazards in (await overdue_by_city(session, app.directory, today)).items():
        group = app.directory.region_group(city)
        if group is None:
            continue
        lines = [f"【逾期隐患提醒】{city}辖区逾期未整改隐患{len(hazards)}处："]
        for h in hazards[:10]:
            lines.append(f"· #{h.id} {h.region} {h.enterprise}：{h.text}（限{h.deadline.month}月{h.deadline.day}日）")
        if len(hazards) > 10:
            lines.append(f"· 另有{len(hazards) - 10}处，发“隐患清单 {city}”查看")
        lines.append("整改后请发“销号 编号 整改说明”。")
        outbox.to_group(group, "\n".join(lines), reason="overdue")


async def _calendar_warning(app: Any, now: datetime) -> None:
    """Once a year: the holiday library has no data for this year; fall back and say so."""
    cal = app.data["calendar"]
    if cal.covered(now.year):
        return
    async with transaction(app.sessions) as session:
        if not await claim(session, f"calendar_warning:{now.year}", now):
            return
        text = (f"提示：节假日数据尚无{now.year}年安排，机器人暂按周一至周五并结合配置的调休执行。"
                "请管理员在配置 schedule.extra_workdays / extra_holidays 中补充当年放假安排。")
        app.log.warning("calendar_not_covered", year=now.year)
        outbox = Outbox(session, app.data)
        for g in app.directory.groups_with_role("chuzhang"):
            outbox.to_group(g, text, mention=app.directory.with_role("admin"), reason="calendar")
    app.outbox_sender.wake()
