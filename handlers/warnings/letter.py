"""提示函: a Word letter to a region's 一把手 listing its open and overdue hazards and unanswered
warnings; posted in the region's group and tracked like a warning (回执 = acknowledgement)."""
from __future__ import annotations

import asyncio
import copy
from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.audit import audit
from bot.config import Person
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.scope import covers, scope_name
from handlers.daily.commentary import domain_in
from handlers.warnings.issue import Order, activate, new_warning
from handlers.warnings.state import SILENT_STORED
from handlers.warnings.targets import Reach, Target
from models.reports import Hazard
from models.warnings import Obligation, Warning

router = Router(__name__, "叫应")


LETTER = Command("提示函", usage="提示函 地区 事由：向该地区一把手发提示函（Word），跟踪回执",
                 roles=("division_head", "duty_officer", "admin"))


def may_send(person: Person | None) -> bool:
    return LETTER.allows(person)


async def letter_items(app: Any, session: AsyncSession, region: str, today: Any, domain: str | None = None) -> list[str]:
    """The region's open hazards, oldest first; only the subject's domain when the 事由 names one (a 危化品
    letter lists no 工贸 hazard). A letter without a domain also lists the region's unanswered warnings."""
    tree = app.directory.regions
    q = select(Hazard).where(Hazard.status == "open").order_by(col(Hazard.found_on), col(Hazard.id))
    if domain is not None:
        q = q.where(Hazard.domain == domain)
    hazards = [h for h in (await session.exec(q)).all() if h.region and tree.contains(region, h.region)]
    items = []
    for h in hazards:
        due = f"，整改期限{h.deadline.month}月{h.deadline.day}日" + ("（已逾期）" if h.deadline < today else "") if h.deadline else ""
        items.append(f"{h.enterprise}：{h.text}（{h.found_on.month}月{h.found_on.day}日发现{due}，编号#{h.id}）")
    if domain is not None:
        return items
    silent = (await session.exec(select(Obligation, Warning).join(Warning, col(Warning.id) == col(Obligation.warning_id))
                                 .where(col(Obligation.state).in_(SILENT_STORED), Warning.status == "active")
                                 .order_by(col(Obligation.sent_at), col(Obligation.id)))).all()
    for o, w in silent:
        if o.region and tree.contains(region, o.region):
            p = app.directory.people.get(o.person_id)
            items.append(f"{w.title}：{p.name if p else o.person_id}（{o.title}）未回应")
    return items


def none_text(region: str, domain: str | None) -> str:
    return f"{region}暂无{domain}领域未整改隐患。" if domain else f"{region}暂无未整改隐患和未回应叫应。"


async def next_serial(session: AsyncSession, now: datetime) -> int:
    """提示函 have their own number series, restarting each year: 提示函第1号 is the year's first letter."""
    start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    last = (await session.exec(select(func.max(Warning.serial)).where(
        Warning.kind == "提示函", col(Warning.issued_at) >= start, col(Warning.issued_at) < start.replace(year=start.year + 1),
    ))).one()
    return (last or 0) + 1


def render(template: Path, out: Path, values: dict[str, str], items: list[str], empty: str = "暂无未整改隐患。") -> Path:
    """Fill {占位符} in the template's paragraphs; the paragraph holding {清单} repeats once per item."""
    doc = Document(str(template))
    for para in list(doc.paragraphs):
        if "{清单}" in para.text:
            for i, item in enumerate(items or [empty], 1):
                new = copy.deepcopy(para._p)
                para._p.addprevious(new)
                _set_text(new, para.text.replace("{清单}", f"{i}. {item}" if items else item))
            para._p.getparent().remove(para._p)
            continue
        text = para.text
        for k, v in values.items():
            text = text.replace("{" + k + "}", v)
        if text != para.text:
            for run in para.runs[1:]:
                run.text = ""
            if para.runs:
                para.runs[0].text = text
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


def _set_text(p_element: Any, text: str) -> None:
    from docx.text.paragraph import Paragraph

    para = Paragraph(p_element, None)
    for run in para.runs[1:]:
        run.text = ""
    if para.runs:
        para.runs[0].text = text
    else:
        para.add_run(text)


@router.message(LETTER)
async def prompt_letter(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                        app: Any) -> str:
    if not may_send(person):
        outbox.reply(event, "抱歉，提示函只能由处长或值班员发出。")
        return "letter_denied"
    assert person is not None
    parts = args.split(None, 1)
    region_key = app.directory.regions.canonical(parts[0]) if parts else None
    if region_key is None or len(parts) < 2:
        outbox.reply(event, "格式：提示函 地区 事由，如：提示函 梨树县 危化品隐患整改不到位")
        return "letter_bad"
    if "admin" in person.roles and not {"division_head", "duty_officer"} & set(person.roles) \
            and not covers(app.directory, person, region_key):
        outbox.reply(event, f"您是{scope_name(app.directory, person)}的管理员，不能向{region_key}发提示函。")
        return "letter_denied"
    reason = parts[1].strip()
    now: datetime = event.received_at
    heads = [p for p in app.directory.people.values()
             if any(r.region == region_key and r.title == "一把手" for r in p.responsible)]
    if not heads:
        outbox.reply(event, f"配置中没有{region_key}的一把手，无法发提示函。请管理员补充。")
        return "letter_bad"
    reporters = [p for u in app.cfg.units if u.region == region_key for p in app.directory.reporters_of(u.id)]
    order = Order(app.cfg.warnings.letter_level, "提示函", [region_key], reason, None)
    w = new_warning(app, order, person.id, now, event.transport, event.chat_id, kind="提示函")
    w.serial = await next_serial(session, now)
    session.add(w)
    await session.flush()
    domain = domain_in(reason)
    items = await letter_items(app, session, region_key, now.date(), domain)
    values = {"编号": f"第{w.serial}号", "收件人": "、".join(f"{h.name}同志" for h in heads), "地区": region_key,
              "事由": reason, "日期": f"{now.year}年{now.month}月{now.day}日", "发函人": person.name,
              "回执期限": f"{w.deadline_min:g}分钟"}
    template = app.settings.config_path.parent / app.cfg.warnings.letter_template
    path = app.settings.var_dir / "files" / f"提示函_{region_key}_{w.id}.docx"
    await asyncio.to_thread(render, template, path, values, items, none_text(region_key, domain))
    w.document = str(path)
    r = Reach([region_key], [Target(h, region_key, "一把手") for h in heads])
    group = app.directory.region_group(region_key)
    if group is not None:
        r.groups[group.id] = list(r.targets)
    w.content = f"{region_key}：{reason}（" + (f"{len(items)}项，详见附件）" if items else f"{none_text(region_key, domain)}）")
    n = await activate(app, session, outbox, w, now, r, extra=reporters, attachment=str(path))
    audit(session, person.id, "prompt_letter", now, warning=w.id, region=region_key)
    what = f"{len(items)}项" if items else none_text(region_key, domain).rstrip("。")
    outbox.reply(event, f"提示函第{w.serial}号已发{region_key}（{what}），{n}人须回执。发“叫应情况 {w.id}”查看回执。")
    return "prompt_letter"
