"""The daily cycle's tables: emergency mode (提级管理) and the 日点评 drafts."""
from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.types import json_dict, json_list, when


class EmergencyMode(SQLModel, table=True):
    """提级管理: N report rounds a day, each with its own reminder and deadline, for a date range."""

    __tablename__ = "emergency_modes"

    id: int | None = Field(default=None, primary_key=True)
    start: date = Field(index=True)
    end: date = Field(index=True)
    rounds: list = json_list()  # [{"remind": "08:30", "deadline": "09:00"}, …]
    reason: str | None = None
    set_by: str = Field(max_length=128)
    set_at: datetime = when()
    active: bool = True


class Commentary(SQLModel, table=True):
    """One division's 日点评 for one slot: drafted by the bot, approved by the division head."""

    __tablename__ = "commentaries"

    id: int | None = Field(default=None, primary_key=True)
    report_date: date = Field(index=True)
    domain: str = Field(max_length=16, index=True)
    slot: int = 1
    status: str = Field(default="draft", max_length=16, index=True)  # draft | published | skipped
    text: str
    remarks: list = json_list()
    drafted_at: datetime = when()
    approved_by: str | None = Field(default=None, max_length=128)
    published_at: datetime | None = when(nullable=True, default=None)
    snapshot: dict = json_dict()  # hazard ids open and closed at drafting, for the next 回头看
