"""The issue job: `POST /api/warnings` stores the warning as `issuing` and answers at once; this job
activates it (20,000 obligations, steps and messages) in one transaction. The row is the durable job: a
crash before the commit leaves it `issuing`, and the next run (every few seconds, in whichever process
holds the scheduler) picks it up again."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from bot.audit import audit
from bot.outbox import Outbox
from handlers.warnings.issue import activate
from models.db import transaction
from models.warnings import Warning

ISSUING = "issuing"


async def issue_pending(app: Any, now: datetime) -> int:
    """Activate every warning left `issuing`, oldest first; returns the people named."""
    async with app.sessions() as session:
        ids = (await session.exec(select(Warning.id).where(Warning.status == ISSUING).order_by(col(Warning.id)))).all()
    named = 0
    for wid in ids:
        async with transaction(app.sessions) as session:
            # the row lock makes a second process skip a warning the first is activating
            w = (await session.exec(select(Warning).where(Warning.id == wid, Warning.status == ISSUING)
                                    .with_for_update(skip_locked=True))).first()
            if w is None:
                continue
            n = await activate(app, session, Outbox(session, app.data), w, app.clock.now())
            audit(session, w.issued_by, "warning_issue", app.clock.now(), warning=w.id, people=n)
            named += n
        app.log.info("warning_issued", warning=wid, people=n)
    if named and app.outbox_sender is not None:
        app.outbox_sender.wake()
    return named
