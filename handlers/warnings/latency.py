"""叫应 ack latency per 市州 against the 5-minute rule, over recent warnings."""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.directory import Directory
from handlers.warnings.summary import RULE_S
from models.warnings import Obligation, Warning


@dataclass
class Latency:
    named: int
    answered: int
    within_rule: int
    median_s: float | None


async def latency_by_city(session: AsyncSession, directory: Directory, since: datetime) -> dict[str, Latency]:
    rows = (await session.exec(
        select(Obligation.region, Obligation.acked_at, Warning.activated_at)
        .join(Warning, col(Warning.id) == col(Obligation.warning_id))
        .where(col(Warning.activated_at) >= since, col(Obligation.backup_of).is_(None))
    )).all()
    named: dict[str, int] = defaultdict(int)
    times: dict[str, list[float]] = defaultdict(list)
    for region, acked, start in rows:
        city = directory.city_of(region)
        named[city] += 1
        if acked is not None and start is not None:
            times[city].append((acked - start).total_seconds())
    return {c: Latency(named[c], len(times[c]), sum(t <= RULE_S for t in times[c]),
                       statistics.median(times[c]) if times[c] else None) for c in named}
