"""Run a scheduled step at most once, even across restarts and several processes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from models.core import KeyValue


async def claim(session: AsyncSession, key: str, now: datetime, **info: Any) -> bool:
    """Record `key` as done in this transaction; False if it already was."""
    if await session.get(KeyValue, key) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(KeyValue(key=key, value={"at": now.isoformat(), **info}))
    except IntegrityError:
        return False
    return True
