"""叫应 commands: issue with preview, confirm, cancel, progress, close, export."""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.audit import audit
from bot.config import Person
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.events import InboundMessage
from bot.outbox import Outbox
from handlers.warnings.issue import activate, new_warning, parse_order, preview_text, reach_of
from handlers.warnings.summary import close_warning, export_records, status_text
from models.warnings import Warning

router = Router(__name__, "叫应")
PREVIEW_TTL = timedelta(minutes=30)


DUTY = ("duty_officer",)
ISSUE = Command("叫应", "预警", usage="叫应 级别 类型 范围：地区 内容：… 时限N分钟：发起叫应（先预览，回复“确认”发出、“取消”作废）",
                roles=DUTY)
CLOSE = Command("解除", usage="解除 编号：结束叫应并发总结", roles=DUTY)
RECORDS = Command("叫应记录", usage="叫应记录 编号：全部呼叫与应答记录（Excel）", roles=("duty_officer", "admin"))


def is_duty(person: Person | None) -> bool:
    return ISSUE.allows(person)


@router.message(Command("叫应情况", "叫应进度", usage="叫应情况 [编号]：谁已回应、谁未叫醒"))
async def progress(event: InboundMessage, args: str, session: AsyncSession, outbox: Outbox, app: Any) -> str:
    w = await _pick(session, args)
    if w is None:
        outbox.reply(event, await _not_found(session, args) + "发“叫应情况 编号”查看指定叫应。")
        return "warning_status"
    outbox.reply(event, await status_text(app, session, w))
    return "warning_status"


@router.message(RECORDS)
async def records(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                  app: Any) -> str:
    if not RECORDS.allows(person):
        outbox.reply(event, "抱歉，叫应记录只有值班员和管理员可以调取。发“叫应情况 编号”查看进度。")
        return "warning_denied"
    w = await _pick(session, args)
    if w is None:
        outbox.reply(event, await _not_found(session, args) + "格式：叫应记录 编号")
        return "warning_records"
    path = await export_records(session, app, w, app.settings.var_dir / "files" / f"叫应记录_{w.id}.xlsx")
    outbox.reply(event, f"{w.title} 全部呼叫与应答记录见附件。", attachment=str(path))
    return "warning_records"


@router.message(ISSUE)
async def issue(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                app: Any) -> str:
    if not is_duty(person):
        outbox.reply(event, "抱歉，叫应只能由值班员发起。如需叫应请联系值班室。")
        return "warning_denied"
    order = parse_order(args, app.directory)
    if isinstance(order, str):
        outbox.reply(event, order)
        return "warning_bad"
    assert person is not None
    w = new_warning(app, order, person.id, event.received_at, event.transport, event.chat_id)
    session.add(w)
    await session.flush()
    r = reach_of(app, w)
    if not r.targets:
        w.status = "cancelled"
        outbox.reply(event, "范围内没有配置包保责任人或一把手，无法叫应。请管理员补充配置。")
        return "warning_bad"
    outbox.reply(event, preview_text(app, w, r))
    audit(session, person.id, "warning_preview", event.received_at, warning=w.id)
    return "warning_preview"


async def _my_preview(session: AsyncSession, person: Person, args: str, now: Any) -> Warning | None:
    q = select(Warning).where(Warning.status == "preview", Warning.issued_by == person.id,
                              col(Warning.issued_at) >= now - PREVIEW_TTL)
    m = re.search(r"\d+", args)
    if m:
        q = q.where(Warning.id == int(m.group()))
    return (await session.exec(q.order_by(col(Warning.id).desc()))).first()


@router.message(Command("确认"))
async def confirm(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                  app: Any) -> str:
    if not is_duty(person):
        outbox.reply(event, "抱歉，只有值班员可以确认叫应。")
        return "warning_denied"
    assert person is not None
    w = await _my_preview(session, person, args, event.received_at)
    if w is None:
        outbox.reply(event, "没有待确认的叫应（预览30分钟内有效）。")
        return "warning_none"
    n = await activate(app, session, outbox, w, event.received_at)
    audit(session, person.id, "warning_issue", event.received_at, warning=w.id, people=n)
    outbox.reply(event, f"{w.title}已发出，点名{n}人。发“叫应情况 {w.id}”查看进度，“解除 {w.id}”结束。")
    return "warning_issued"


@router.message(Command("取消"))
async def cancel(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox) -> str:
    if not is_duty(person):
        return "ignored"
    assert person is not None
    w = await _my_preview(session, person, args, event.received_at)
    if w is None:
        outbox.reply(event, "没有待确认的叫应。")
        return "warning_none"
    w.status = "cancelled"
    session.add(w)
    outbox.reply(event, f"{w.title}已作废，未发出。")
    return "warning_cancelled"


@router.message(CLOSE)
async def close(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                app: Any) -> str:
    if not CLOSE.allows(person):
        outbox.reply(event, "抱歉，只有值班员可以解除叫应。")
        return "warning_denied"
    if not re.search(r"\d", unicodedata.normalize("NFKC", args)):  # never the newest one by default: ending is final
        outbox.reply(event, "请写明要解除的编号，如“解除 3”。" + await _not_found(session, ""))
        return "warning_none"
    w = await _pick(session, args, active_only=True)
    if w is None:
        outbox.reply(event, await _not_found(session, args, active_only=True) + "格式：解除 编号")
        return "warning_none"
    assert person is not None
    await close_warning(app, session, outbox, w, event.received_at, closed_by=person.id)
    audit(session, person.id, "warning_close", event.received_at, warning=w.id)
    return "warning_closed"


async def _not_found(session: AsyncSession, args: str, active_only: bool = False) -> str:
    """Why no warning was picked, and which are in progress: `解除 2` of one ended, `解除 5` of none."""
    m = re.search(r"\d+", unicodedata.normalize("NFKC", args))
    w = await session.get(Warning, int(m.group())) if m else None
    active = (await session.exec(select(Warning.id).where(Warning.status == "active").order_by(col(Warning.id)))).all()
    now = f"进行中：{'、'.join(f'#{i}' for i in active)}。" if active else "目前没有进行中的叫应。"
    if w is not None and w.status == "closed" and active_only:
        return f"{w.title}已解除，无需重复。{now}"
    if m:
        return f"没有编号#{m.group()}的{'进行中的' if active_only else ''}叫应。{now}"
    return now

async def _pick(session: AsyncSession, args: str, active_only: bool = False) -> Warning | None:
    """The warning numbered in `args`; without a number, the newest in progress, else the newest ended."""
    m = re.search(r"\d+", unicodedata.normalize("NFKC", args))
    q = select(Warning).where(col(Warning.status).in_(["active"] if active_only else ["active", "closed"]))
    if m:
        q = q.where(Warning.id == int(m.group()))
    return (await session.exec(q.order_by(col(Warning.status) != "active", col(Warning.id).desc()))).first()
