"""The console's tables: one-time login codes, live sessions, and routing edits over the YAML seeds."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import json_dict, when


class LoginCode(SQLModel, table=True):
    """A one-time link and code for one person; only hashes are stored."""

    __tablename__ = "login_codes"

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = Field(max_length=128)
    token_hash: str = Field(max_length=64, index=True)
    code_hash: str = Field(max_length=64, index=True)
    created_at: datetime = when()
    expires_at: datetime = when(index=True)
    used_at: datetime | None = when(nullable=True, default=None)


class ConsoleSession(SQLModel, table=True):
    """A logged-in browser; the encrypted cookie names it, logout ends it (a copied cookie dies with it)."""

    __tablename__ = "console_sessions"

    id: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(max_length=128, index=True)
    started_at: datetime = when()
    expires_at: datetime = when()
    ended_at: datetime | None = when(nullable=True, default=None)


class RoutingOverride(SQLModel, table=True):
    """Fields of a configured group or person changed at run time; they override the YAML seed."""

    __tablename__ = "routing_overrides"
    __table_args__ = (UniqueConstraint("kind", "config_id", name="uq_routing_override"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # group | person
    config_id: str = Field(max_length=128)
    fields: dict = json_dict()
    updated_by: str = Field(max_length=128)
    updated_at: datetime = when()
