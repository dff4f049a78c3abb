"""销号 and 隐患清单 from the chat."""
from __future__ import annotations

import asyncio
import re
import unicodedata
from typing import Any

from openpyxl import Workbook
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Person
from bot.directory import Directory
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.scope import covers
from bot.xlsx import safe_row
from handlers.daily.commentary import ALIASES, DIVISIONS, domain_in
from models.reports import Hazard, HazardEvent

router = Router(__name__, "隐患")
CLOSE = Command("销号", usage="销号 编号 整改说明：隐患整改完成后销号", roles=("reporter", "division_head", "admin"))
SHOWN = 15


def may_close(person: Person | None, hz: Hazard, directory: Directory) -> bool:
    """The unit's reporter; the division head of its domain; an admin whose region holds it."""
    if person is None or not CLOSE.allows(person):
        return False
    inside = covers(directory, person, hz.region)
    if "admin" in person.roles and inside:
        return True
    if "division_head" in person.roles and person.domain in (hz.domain, None) and inside:
        return True
    return "reporter" in person.roles and person.unit is not None and person.unit == hz.unit_id


@router.message(CLOSE)
async def close(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                directory: Directory) -> str:
    args = unicodedata.normalize("NFKC", args)  # ＃７, full-width digits and spaces, as Chinese keyboards type them
    m = re.match(r"#?\s*(\d+)\s*[，,：:\s]*(.*)", args, re.S)
    if not m:
        outbox.reply(event, "格式：销号 隐患编号 整改说明，如：销号 12 已更换报警器并检定合格")
        return "close_bad"
    if re.match(r"[、，,]?\s*#?\s*\d+(?=\s|$|[、，,])", m.group(2)):  # 销号 141、142 …: one number at a time
        outbox.reply(event, f"一次销号一处，请分别发送，如：销号 {m.group(1)} 整改说明")
        return "close_bad"
    number = m.group(1)
    if len(number) > 9 or not number.isascii():  # beyond any id the database holds
        outbox.reply(event, f"没有编号为 #{number[:12]}{'…' if len(number) > 12 else ''} 的隐患。发“隐患清单”查看编号。")
        return "close_unknown"
    hz = await session.get(Hazard, int(number))
    note = m.group(2).strip()
    if hz is None:
        outbox.reply(event, f"没有编号为 #{number} 的隐患。发“隐患清单”查看编号。")
        return "close_unknown"
    if hz.status == "closed":
        outbox.reply(event, f"#{hz.id} 已销号，无需重复操作。")
        return "close_done"
    if hz.status == "superseded":  # its report was corrected: the hazard has a new number now
        outbox.reply(event, f"#{hz.id} 所在的日报已更正，此编号作废。请发“隐患清单”查看新编号后再销号。")
        return "close_done"
    if not may_close(person, hz, directory):
        outbox.reply(event, f"#{hz.id} 属于{hz.region}，只有该单位报送员或{hz.domain or '该领域'}处长可以销号（管理员限本地区）。")
        return "close_denied"
    if len(note) < 2:
        outbox.reply(event, f"请写明整改说明，如：销号 {hz.id} 已更换报警器并检定合格")
        return "close_bad"
    assert person is not None
    hz.status, hz.closed_at, hz.closed_by, hz.evidence = "closed", event.received_at, person.id, note
    session.add(hz)
    session.add(HazardEvent(hazard_id=hz.id, at=event.received_at, actor=person.id, action="closed", note=note))
    outbox.reply(event, f"已销号 #{hz.id} {hz.enterprise}：{hz.text}。")
    return "closed"


def unknown_words(args: str, directory: Directory) -> str | None:
    """What the list cannot filter by: a place not ours, or words that are neither a region nor a division."""
    if place := directory.regions.unknown_place(args):
        return place
    rest = args
    for a, b, _ in sorted(directory.regions.find_all(args), reverse=True):
        rest = rest[:a] + " " + rest[b:]
    for name in sorted([*DIVISIONS, *ALIASES, "全省"], key=len, reverse=True):
        rest = rest.replace(name, " ")
    rest = re.sub(r"[\s，,、。；;：:]+", " ", rest).strip()
    return rest[:20] or None


@router.message(Command("隐患清单", "隐患列表", "未整改隐患", usage="隐患清单 [地区/全省] [领域]：未整改隐患（市县群里默认本地）"))
@router.message(Command("隐患", prefix_only=True))  # what people type for the list: `隐患`, `隐患 吉林市`
async def list_open(event: InboundMessage, args: str, session: AsyncSession, directory: Directory, outbox: Outbox,
                    app: Any) -> str:
    if unknown := unknown_words(args, directory):
        if like := directory.regions.like(unknown):  # 隐患 吉林: 吉林市, or the province?
            outbox.reply(event, f"没有找到“{unknown}”。您是指{'还是'.join(like)}？请写全称，如“隐患 {like[0]}”。")
        else:
            outbox.reply(event, f"没有找到“{unknown}”。请写本省的市县名称或领域，如“隐患清单 吉林市 危化品”。")
        return "hazard_list_unknown"
    region = directory.asked_region(event, args)  # in a city's group: its city, unless 全省 is asked for
    domain = domain_in(args)
    q = select(Hazard).where(Hazard.status == "open").order_by(col(Hazard.deadline).is_(None), col(Hazard.deadline),
                                                              col(Hazard.id))
    if domain:
        q = q.where(Hazard.domain == domain)
    rows = list((await session.exec(q)).all())
    if region is not None:
        rows = [h for h in rows if h.region and directory.regions.contains(region.key, h.region)]
    today = event.received_at.date()
    where = (region.key if region else "全省") + (domain or "")
    if not rows:
        outbox.reply(event, f"{where}暂无未整改隐患。")
        return "hazard_list"
    lines = [f"{where}未整改隐患{len(rows)}处（逾期{sum(1 for h in rows if h.deadline and h.deadline < today)}处）："]
    for h in rows[:SHOWN]:
        due = f"限{h.deadline.month}月{h.deadline.day}日" if h.deadline else "未定期限"
        late = "，逾期" if h.deadline and h.deadline < today else ""
        lines.append(f"#{h.id} {h.region} {h.enterprise}：{h.text}（{due}{late}）")
    attachment = None
    if len(rows) > SHOWN:
        path = app.settings.var_dir / "files" / f"隐患清单_{where}_{today.isoformat()}.xlsx"
        await asyncio.to_thread(_write, rows, path)
        attachment = str(path)
        lines.append(f"……另{len(rows) - SHOWN}处见附件")
    outbox.reply(event, "\n".join(lines), attachment=attachment)
    return "hazard_list"


def _write(rows: list[Hazard], path: Any) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "未整改隐患"
    ws.append(safe_row(["编号", "地区", "企业", "领域", "隐患", "发现日期", "整改期限", "整改要求"]))
    for h in rows:
        ws.append(safe_row([h.id, h.region, h.enterprise, h.domain, h.text, h.found_on, h.deadline, h.rectification]))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
