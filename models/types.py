"""Column helpers shared by the tables."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, TypeDecorator
from sqlmodel import Field

from bot.clock import TZ


class LocalTime(TypeDecorator):
    """Datetimes stored as Asia/Shanghai wall time and handed back aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(TZ).replace(tzinfo=None) if value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=TZ) if value is not None else None


def when(nullable: bool = False, index: bool = False, default: Any = ...) -> Any:
    kw = {} if default is ... else {"default": default}
    return Field(sa_type=LocalTime, nullable=nullable, index=index, **kw)


def json_list() -> Any:
    return Field(default_factory=list, sa_type=JSON)


def json_dict() -> Any:
    return Field(default_factory=dict, sa_type=JSON)
