"""Sending 日点评 drafts to division heads and publishing approved commentary."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.config import Person
from bot.outbox import Outbox
from models.daily import Commentary


def send_draft(app: Any, outbox: Outbox, c: Commentary, heads: list[Person]) -> None:
    how = (f"回复“发布点评 {c.domain}”发布；“点评 {c.domain}：意见”补充；“修改点评 {c.domain}：全文”替换。")
    text = f"{c.text}\n——草稿，待处长审定。{how}"
    if app.cfg.schedule.commentary_to == "chuzhang":
        for g in app.directory.groups_with_role("chuzhang"):
            outbox.to_group(g, text, mention=heads, reason="commentary_draft", correlation_id=f"commentary:{c.id}")
        return
    for head in heads:
        outbox.to_person(head, text, reason="commentary_draft", correlation_id=f"commentary:{c.id}")


def final_text(c: Commentary, approved_by: Person | None) -> str:
    text = c.text
    if c.remarks:
        text += "\n处长意见：" + "；".join(c.remarks)
    if approved_by is not None:
        text += f"\n（{approved_by.name}）"
    return text


def publish_commentary(app: Any, outbox: Outbox, c: Commentary, now: datetime, approved_by: Person | None) -> int:
    text = final_text(c, approved_by)
    n = 0
    for role in ("chuzhang", "anwei"):
        for g in app.directory.groups_with_role(role):
            n += outbox.to_group(g, text, reason="commentary", correlation_id=f"commentary:{c.id}")
    c.status = "published"
    c.published_at = now
    c.approved_by = approved_by.id if approved_by else None
    return n
