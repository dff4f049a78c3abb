"""催叫 now, from the console: one re-mention per group listing everyone still silent, and a private
message to each, through the escalation's own batch (recorded like any other call)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.audit import audit
from bot.outbox import Outbox
from handlers.warnings.escalate import Batch, silent_obligations
from models.db import transaction
from models.warnings import CallRecord, Warning


async def urge_now(app: Any, warning_id: int, now: datetime, by: str) -> int | None:
    """How many people were urged; None when the warning is not active."""
    async with transaction(app.sessions) as session:
        w = await session.get(Warning, warning_id)
        if w is None or w.status != "active":
            return None
        b = Batch(app, session, Outbox(session, app.data), now, warnings={warning_id: w})
        silent = await silent_obligations(session, warning_id)
        text = f"【催叫】{w.title}，值班员正在等您回应，请立即回复“收到”或数字1。"
        for o in silent:
            p = app.directory.people.get(o.person_id)
            if p is None:
                continue
            group = app.directory.groups.get(o.group_id or "") or app.directory.region_group(o.region)
            if group is not None:
                b.remind.setdefault((warning_id, group.id), []).append((p, o))
            if b.outbox.to_person(p, text, reason="escalation", correlation_id=f"warning:{w.id}"):
                session.add(CallRecord(warning_id=w.id, obligation_id=o.id, person_id=p.id, at=now, direction="out",
                                       channel="private", text=text))
        b.flush_reminders()
        audit(session, by, "warning_urge", now, warning=warning_id, people=len(silent))
    app.outbox_sender.wake()
    return len(silent)
