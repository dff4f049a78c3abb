"""One-time console login: a link and a six-digit code, valid five minutes, for one person only."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Person
from models.console import ConsoleSession, LoginCode

CODE_TTL = timedelta(minutes=5)
SESSION_TTL = timedelta(hours=12)
CONSOLE_ROLES = ("admin", "duty_officer", "division_head")


@dataclass(frozen=True)
class Issued:
    token: str
    code: str
    expires_at: datetime


def may_log_in(person: Person | None) -> bool:
    return person is not None and bool(set(CONSOLE_ROLES) & set(person.roles))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_login(session: AsyncSession, person: Person, now: datetime) -> Issued:
    """A fresh link token and code; the person's earlier unused codes stop working."""
    for old in (await session.exec(select(LoginCode).where(LoginCode.person_id == person.id,
                                                           col(LoginCode.used_at).is_(None)))).all():
        old.used_at = now
        session.add(old)
    while True:  # codes are short: never hand out one that is live for someone else
        code = f"{secrets.randbelow(10**6):06d}"
        clash = (await session.exec(select(LoginCode.id).where(LoginCode.code_hash == _hash(code),
                                                               col(LoginCode.used_at).is_(None),
                                                               col(LoginCode.expires_at) > now))).first()
        if clash is None:
            break
    token = secrets.token_urlsafe(24)
    issued = Issued(token, code, now + CODE_TTL)
    session.add(LoginCode(person_id=person.id, token_hash=_hash(token), code_hash=_hash(code), created_at=now,
                          expires_at=issued.expires_at))
    await session.flush()
    return issued


async def find_code(session: AsyncSession, *, code: str | None = None, token: str | None = None) -> LoginCode | None:
    """The code row for a typed code or a link token, used or not (the caller says why it fails)."""
    if token:
        q = select(LoginCode).where(LoginCode.token_hash == _hash(token))
    elif code:
        q = select(LoginCode).where(LoginCode.code_hash == _hash(code))
    else:
        return None
    return (await session.exec(q.order_by(col(LoginCode.id).desc()))).first()


def why_unusable(row: LoginCode | None, now: datetime) -> str | None:
    if row is None:
        return "登录码不正确。请核对，或在私聊中重新发送“登录”获取新的登录码。"
    if row.used_at is not None:
        return "该登录码已使用过或已作废，每个登录码只能用一次。请在私聊中重新发送“登录”。"
    if row.expires_at <= now:
        return "该登录码已过期（5分钟内有效）。请在私聊中重新发送“登录”。"
    return None


async def start_session(session: AsyncSession, row: LoginCode, now: datetime) -> ConsoleSession:
    row.used_at = now
    session.add(row)
    live = ConsoleSession(id=secrets.token_urlsafe(24), person_id=row.person_id, started_at=now,
                          expires_at=now + SESSION_TTL)
    session.add(live)
    await session.flush()
    return live


async def live_session(session: AsyncSession, sid: str, now: datetime) -> ConsoleSession | None:
    row = await session.get(ConsoleSession, sid)
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return row


async def end_session(session: AsyncSession, sid: str, now: datetime) -> None:
    row = await session.get(ConsoleSession, sid)
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)
