"""Reports posted in groups or privately: parse, store, answer in one or two lines."""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import col, select

from bot.config import Config, Person, Unit
from bot.directory import Directory
from bot.dispatch import SKIP, Router
from bot.dispatch.filters import Command, Usage
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.scope import covers, scope_name
from bot.templates import Templates
from bot.workdays import WorkCalendar
from handlers.daily.rounds import slots_for
from handlers.reports.bounded import Limits
from handlers.reports.ingest import Ingested, place, resolve_unit, store_report
from handlers.reports.parse import ParseResult
from models.reports import NEEDS_REVIEW, InspectionReport

router = Router(__name__, "日报")


@router.message(Command("模板", "日报模板", "报表模板", usage="模板：日报格式"))
async def template(event: InboundMessage, outbox: Outbox, templates: Templates) -> str:
    outbox.reply(event, templates.render("report_template"))
    return "template"


def _parsed(data: dict[str, Any]) -> dict[str, Any] | bool:
    """A filter: the message is a report (text or .xlsx), read beforehand by `bounded.prepare_report`."""
    return data.get("report_pre") or False


@router.message(Usage("报日报：把检查情况（文字、粘贴的表格或Excel文件）直接发到群里", roles=("reporter",)), _parsed)
async def report(
    event: InboundMessage,
    person: Person | None,
    directory: Directory,
    outbox: Outbox,
    templates: Templates,
    cfg: Config,
    calendar: WorkCalendar,
    session: Any,
    raw_id: int,
    report_limits: Limits,
    parsed: ParseResult | None = None,
    source: str = "text",
    sheet_error: str | None = None,
    too_long: bool = False,
    unknown_sheet: bool = False,
) -> Any:
    if too_long:
        outbox.reply(event, report_limits.too_long())
        return "report_too_long"
    if unknown_sheet:
        outbox.reply(event, templates.render("unknown_sender_report", sender=event.sender_name or event.sender_id))
        return "report_unknown_sender"
    if parsed is None:
        outbox.reply(event, f"附件无法识别为日报表：{sheet_error}。请用六栏表格（检查单位、受检单位、检查地点、发现的问题隐患、检查人员、整改情况），第一行可为标题。")
        return "report_unreadable"
    if parsed.report is None:
        return SKIP
    if person is None:
        outbox.reply(event, templates.render("unknown_sender_report", sender=event.sender_name or event.sender_id))
        return "report_unknown_sender"
    if not may_report(person):
        outbox.reply(event, templates.render("not_a_reporter"))
        return "report_denied"
    if (ahead := future_date(parsed, event)) is not None:
        outbox.reply(event, ahead)
        return "report_future_date"
    parsed_report = parsed.report
    unit = resolve_unit(parsed_report, person, directory)
    region = unit.region if unit else directory.regions.canonical(parsed_report.region)
    if region and not covers(directory, person, region):
        outbox.reply(event, f"您登记在{scope_name(directory, person)}，不能报送{region}的日报，请由{region}的报送员报送。")
        return "report_denied"
    slots = await slots_for(session, event.received_at.date(), cfg, calendar)
    round_no, late = place(parsed, event.received_at, slots, cfg, calendar)
    if is_supplement(event.text) and (kept := await _readable(session, unit, region, parsed_report.date, round_no)):
        # stored, a 补充 would replace the day's report and void its hazards: the reporter merges and re-posts
        day = f"{parsed_report.date.month}月{parsed_report.date.day}日"
        outbox.reply(event, f"{region or kept.unit_name or '本单位'} {day}已有日报，本条“补充”未登记：单独登记会替换原日报，"
                            "原有隐患将作废。请把补充内容并入原日报后整条重发，即自动更正。")
        return "report_supplement"
    stored = await store_report(session, parsed_report, unit=unit, posted_by=person.id, posted_at=event.received_at,
                                raw_id=raw_id, late=late, source=source, problems=parsed.problems, round_no=round_no,
                                review=parsed.review)
    if parsed.review:
        # a wrong assurance (已登记…0家) is worse than none: say what could not be read and keep it as 待核对
        outbox.reply(event, review_text(stored, parsed.review) + "\n" + templates.render("report_template"))
        return "report_review"
    outbox.reply(event, reply_text(stored, parsed, late))
    return "report_corrected" if stored.corrected else "report"


# 补报 too (`…情况补报`: to a day already reported it would replace the report just the same), but as a title,
# not as words: `收到，马上补报。…` is the first report, posted right after
_SUPPLEMENT = re.compile(r"(?:情况|报告|日报|报表|材料)[的之]?(?:补充|补报)|(?:^|[。！!，,\s])(?:补充|补报)(?:报送|上报|材料|情况)?[:：]"
                         r"|[【（(\[](?:补充|补报)[】）)\]]")
_HEAD_END = re.compile(r"\n|受检|被检|检查单位|检查企业|企业名称|[1１一][、.．]")


def is_supplement(text: str) -> bool:
    """`…检查情况补充：`, `【补充】…`, `…情况补报`: 补充 or 补报 in the heading, before the first record (补充 inside a record is a
    hazard's or a measure's wording: 应急预案未及时补充修订)."""
    return bool(_SUPPLEMENT.search(_HEAD_END.split(text[:200], maxsplit=1)[0]))


async def _readable(session: Any, unit: Unit | None, region: str | None, day: date, round_no: int) -> Any:
    """The unit's (else the region's) active readable report of that day and round, if any."""
    R = InspectionReport
    where = R.unit_id == unit.id if unit else R.region == region
    return (await session.exec(select(R).where(col(R.active), where, R.report_date == day, R.round == round_no,
                                               R.status != NEEDS_REVIEW))).first()


def future_date(parsed: ParseResult, event: InboundMessage) -> str | None:
    """A report dated after the day it was sent (12月20日 on 11月24日) is a slip: not registered (a re-post
    with the right date would be another day's report, and the wrong one would stay), the sender told why."""
    r = parsed.report
    today = event.received_at.date()
    if r is None or not r.dated or r.date <= today:
        return None
    day = f"{r.date.year}年{r.date.month}月{r.date.day}日" if r.date.year != today.year else f"{r.date.month}月{r.date.day}日"
    return f"检查日期{day}晚于今天（{today.month}月{today.day}日），未登记。请改正日期后整条重发。"


def may_report(person: Person) -> bool:
    """Only reporters: a report stored replaces the unit's own, so a leader pasting one to discuss must not."""
    return "reporter" in person.roles


def review_text(stored: Ingested, reason: str) -> str:
    r = stored.report
    where = r.region or r.unit_name or "本单位"
    if stored.beside_readable:  # a garbled re-post: the report registered before still counts
        return (f"{where} {r.report_date.month}月{r.report_date.day}日日报未能读全：{reason}。原日报仍有效，本条暂存为待核对；"
                "如需更正，请按下面模板补全后整条重发。")
    return (f"{where} {r.report_date.month}月{r.report_date.day}日日报未能读全：{reason}。已暂存为待核对，"
            f"不计入已报；请按下面模板补全后整条重发。")


def hazard_numbers(ids: list[int]) -> str:
    """`#1、#3`: the numbers as they are (a range would read as every number between)."""
    return "、".join(f"#{i}" for i in ids)


def reply_text(stored: Ingested, parsed: ParseResult, late: bool) -> str:
    r = stored.report
    where = r.region or r.unit_name or "本单位"
    day = f"{r.report_date.month}月{r.report_date.day}日"
    enterprises = r.enterprises if r.enterprises is not None else len(parsed.report.records) if parsed.report else 0
    hazards = r.hazards if r.hazards is not None else stored.hazards
    rectified = r.rectified if r.rectified is not None else stored.rectified
    verb = "已更正" if stored.corrected else "已登记"
    if r.round != 1:
        day += f"第{r.round}轮"
    line = f"{verb} {where} {day}：检查企业{enterprises}家，隐患{hazards}处（已整改{rectified}处）。"
    if late:
        line += "逾期报送，已标记。"
    lines = [line]
    if stored.open_ids:
        ids = stored.open_ids
        if r.rectified is not None and hazards - rectified < len(ids):  # 已整改两处, but not which two
            lines.append(f"文中称已整改{rectified}处，但未写明是哪几处，以下{len(ids)}处暂列待整改，编号{hazard_numbers(ids)}；"
                         "已整改的请发“销号 编号 说明”。")
        else:
            lines.append(f"待整改{len(ids)}处，编号{hazard_numbers(ids)}；整改后发“销号 编号 说明”。")
    if stored.kept_closed:
        lines.append("已销号的仍为销号：" + "、".join(f"#{new}（原#{old}）" for new, old in stored.kept_closed) + "。")
    if stored.withdrawn:  # an open hazard the correction leaves out: withdrawn, and said so
        lines.append(f"原{hazard_numbers(stored.withdrawn)}在更正后的日报里没有，已撤销；如仍存在，请补全后整条重发。")
    if stored.closed_lost:
        lines.append(f"原{hazard_numbers(stored.closed_lost)}已销号，但更正后的日报里写法有变或已删去，销号不再沿用；"
                     "仍存在的隐患已列入待整改，如已整改请重新销号。")
    if parsed.problems:
        lines.append("请补充：" + "；".join(parsed.problems) + "。补全后整条重发即自动更正。")
    return "\n".join(lines)
