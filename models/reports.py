"""日报表 tables: reports, their inspection records, hazards and every hazard state change."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.types import json_list, when


class InspectionReport(SQLModel, table=True):
    __tablename__ = "inspection_reports"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: str | None = Field(default=None, max_length=64, index=True)
    unit_name: str | None = Field(default=None, max_length=128)
    region: str | None = Field(default=None, max_length=64)
    report_date: date = Field(index=True)
    round: int = 1
    teams: int | None = None
    inspectors: int | None = None
    enterprises: int | None = None
    hazards: int | None = None
    rectified: int | None = None
    posted_by: str = Field(max_length=128)
    posted_at: datetime = when()
    raw_message_id: int | None = None
    source: str = Field(default="text", max_length=16)
    late: bool = False
    corrected: bool = False
    active: bool = True
    superseded_by: int | None = None
    problems: list = json_list()
    # registered | needs_review (待核对: the parse cannot be trusted; not counted as reported until a re-post)
    status: str = Field(default="registered", max_length=16)
    review_reason: str | None = Field(default=None, max_length=200)


NEEDS_REVIEW = "needs_review"


class InspectionRecord(SQLModel, table=True):
    __tablename__ = "inspection_records"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(index=True)  # no foreign keys here: see migration a7b8c9d0e1f2
    seq: int
    enterprise: str = Field(max_length=200)
    inspecting_unit: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=200)
    domain: str = Field(max_length=16, index=True)
    inspectors: list = json_list()
    rectification: str | None = None
    hazard_count: int = 0


class Hazard(SQLModel, table=True):
    __tablename__ = "hazards"
    __table_args__ = (Index("ix_hazards_status_domain_deadline", "status", "domain", "deadline"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(index=True)
    record_id: int
    unit_id: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=64, index=True)
    enterprise: str = Field(max_length=200)
    domain: str = Field(max_length=16)
    text: str
    found_on: date = Field(index=True)
    status: str = Field(default="open", max_length=16)  # open | rectified | closed | superseded
    deadline: date | None = Field(default=None)
    rectification: str | None = None
    closed_at: datetime | None = when(nullable=True, default=None)
    closed_by: str | None = Field(default=None, max_length=128)
    evidence: str | None = None
    created_at: datetime = when()


class HazardEvent(SQLModel, table=True):
    """过程留痕: who changed a hazard, when, and what they said."""

    __tablename__ = "hazard_events"

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(index=True)
    at: datetime = when()
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    note: str | None = None
