"""Open hazards past their deadline, grouped by city."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.directory import Directory
from models.reports import Hazard


async def overdue(session: AsyncSession, today: date) -> list[Hazard]:
    rows = await session.exec(
        select(Hazard).where(Hazard.status == "open", col(Hazard.deadline).is_not(None), col(Hazard.deadline) < today)
        .order_by(col(Hazard.deadline), col(Hazard.id))
    )
    return list(rows.all())


async def overdue_by_city(session: AsyncSession, directory: Directory, today: date) -> dict[str, list[Hazard]]:
    out: dict[str, list[Hazard]] = defaultdict(list)
    for h in await overdue(session, today):
        out[directory.city_of(h.region)].append(h)
    return dict(out)
