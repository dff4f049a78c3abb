"""The outbox seen from the console: backlog per account and the time to drain it at that account's rate."""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import OutboxConfig
from bot.delivery import retry_failed
from models.core import OutboxEntry

__all__ = ["AccountBacklog", "backlog", "failed_sends", "retry_failed"]


@dataclass
class AccountBacklog:
    transport: str
    account: str
    waiting: int
    failed: int
    rate_per_minute: float

    @property
    def drain_minutes(self) -> float:
        return self.waiting / self.rate_per_minute if self.rate_per_minute else 0.0

    @property
    def drain_text(self) -> str:
        minutes = self.drain_minutes
        if minutes <= 1:
            return "不到1分钟"
        h, m = divmod(math.ceil(minutes), 60)
        return f"约{h}小时{m}分钟" if h else f"约{m}分钟"


def account_rate(cfg: OutboxConfig, account: str) -> float:
    return cfg.accounts.get(account, cfg.rate_per_minute)


async def backlog(session: AsyncSession, cfg: OutboxConfig) -> list[AccountBacklog]:
    rows = (await session.exec(
        select(OutboxEntry.transport, OutboxEntry.account, OutboxEntry.status, func.count())
        .where(col(OutboxEntry.status).in_(["pending", "sending", "failed"]))
        .group_by(OutboxEntry.transport, OutboxEntry.account, OutboxEntry.status)
    )).all()
    out: dict[tuple[str, str], AccountBacklog] = {}
    for transport, account, status, n in rows:
        b = out.setdefault((transport, account), AccountBacklog(transport, account, 0, 0, account_rate(cfg, account)))
        if status == "failed":
            b.failed += n
        else:
            b.waiting += n
    return sorted(out.values(), key=lambda b: (b.transport, b.account))


async def failed_sends(session: AsyncSession, limit: int = 100) -> list[OutboxEntry]:
    """The newest failed rows (only a platform's permanent rejection, or repeated unexplained errors, fail one)."""
    return list((await session.exec(select(OutboxEntry).where(OutboxEntry.status == "failed")
                                    .order_by(col(OutboxEntry.id).desc()).limit(limit))).all())
