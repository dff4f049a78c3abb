"""叫应 tables: the warning, one obligation per named person, every call and answer, and the
escalation steps as durable timers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import json_dict, json_list, when


def warning_title(kind: str, wid: int | None, level: str, wtype: str, serial: int | None) -> str:
    """叫应#3 红色暴雨预警; a 提示函 by its own document number, with the #id that answers name."""
    if kind == "提示函" and serial:
        return f"提示函第{serial}号（#{wid}）"
    return f"{kind}#{wid} {level}{wtype}"


class Warning(SQLModel, table=True):
    __tablename__ = "warnings"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="叫应", max_length=16)  # 叫应 | 提示函
    level: str = Field(max_length=8)  # 红色 | 橙色 | 黄色 | 蓝色
    type: str = Field(max_length=64)  # 暴雨预警 …
    regions: list = json_list()
    content: str = ""
    deadline_min: float = 5
    status: str = Field(default="preview", max_length=16, index=True)  # preview | active | closed | cancelled
    issued_by: str = Field(max_length=128)
    issued_at: datetime = when()
    activated_at: datetime | None = when(nullable=True, default=None)
    closed_at: datetime | None = when(nullable=True, default=None)
    closed_by: str | None = Field(default=None, max_length=128)
    origin_transport: str | None = Field(default=None, max_length=32)
    origin_chat: str | None = Field(default=None, max_length=128)
    document: str | None = None
    groups: list = json_list()  # group ids it was posted to
    meta: dict = json_dict()  # last rolling line per group, …
    serial: int | None = None  # 提示函: the number in its year's own series (提示函第1号)

    @property
    def title(self) -> str:
        return warning_title(self.kind, self.id, self.level, self.type, self.serial)


class Obligation(SQLModel, table=True):
    """One named person's duty to answer one warning."""

    __tablename__ = "obligations"
    # (person, state): an ack's lookup of what is open for a person must not depend on the planner's
    # statistics, which are stale right after a fan-out inserted 20,000 rows of state `sent`
    __table_args__ = (UniqueConstraint("warning_id", "person_id", name="uq_obligation"),
                      Index("ix_obligations_person_state", "person_id", "state"))

    id: int | None = Field(default=None, primary_key=True)
    warning_id: int = Field(foreign_key="warnings.id")  # the unique constraint starts with it
    person_id: str = Field(max_length=128)  # ix_obligations_person_state starts with it
    region: str | None = Field(default=None, max_length=64)
    group_id: str | None = Field(default=None, max_length=128)  # where they were @-mentioned
    title: str = Field(default="", max_length=32)
    backup_of: int | None = None
    state: str = Field(default="sent", max_length=16, index=True)  # sent | escalated | acked | responded | unwoken
    sent_at: datetime = when()
    acked_at: datetime | None = when(nullable=True, default=None)
    ack_channel: str | None = Field(default=None, max_length=16)
    ack_text: str | None = None
    responded_at: datetime | None = when(nullable=True, default=None)
    response: str | None = None
    escalations: int = 0
    unwoken_at: datetime | None = when(nullable=True, default=None)  # named in a 未叫醒名单 / silent at the end

    @property
    def open(self) -> bool:
        return self.state in ("sent", "escalated")


class CallRecord(SQLModel, table=True):
    """有叫有应有记录: every call out and every answer in."""

    __tablename__ = "call_records"

    id: int | None = Field(default=None, primary_key=True)
    warning_id: int = Field(foreign_key="warnings.id", index=True)
    obligation_id: int | None = Field(default=None, index=True)
    person_id: str | None = Field(default=None, max_length=128)
    at: datetime = when()
    direction: str = Field(max_length=4)  # out | in
    channel: str = Field(max_length=16)  # group | private | voice | sms | ack | response
    text: str = ""
    phone: str | None = Field(default=None, max_length=32, index=True)  # voice/sms: the number, for budgets


class EscalationStep(SQLModel, table=True):
    """A due step: executed exactly once (status flips pending → done in the executing transaction)."""

    __tablename__ = "escalation_steps"
    # (obligation, status): an ack cancels its pending steps through this, whatever the statistics say
    __table_args__ = (UniqueConstraint("warning_id", "obligation_id", "action", "seq", name="uq_step"),
                      Index("ix_escalation_steps_obligation_status", "obligation_id", "status"))

    id: int | None = Field(default=None, primary_key=True)
    warning_id: int = Field(foreign_key="warnings.id")  # the unique constraint starts with it
    obligation_id: int | None = Field(default=None)  # ix_escalation_steps_obligation_status starts with it
    action: str = Field(max_length=24)
    seq: int = 0
    due_at: datetime = when(index=True)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | done | cancelled
    run_token: str | None = Field(default=None, max_length=64)
    executed_at: datetime | None = when(nullable=True, default=None)
    late_s: float | None = None
