"""The audit log: every admin action, who did it and when."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models.core import AuditLog


def audit(session: AsyncSession, actor: str, action: str, at: datetime, **detail: Any) -> None:
    session.add(AuditLog(at=at, actor=actor, action=action, detail=detail))
