"""Personal API tokens: one per person (or several), stored as SHA-256 digests, revocable.

A request speaks for the token's owner: the API never takes a name from the request body.
`BOT_API_TOKEN` still works when `BOT_API_TOKEN_OWNER` names a configured person.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from bot.clock import SystemClock
from bot.settings import Settings
from models.core import ApiToken
from models.db import transaction

PREFIX = "yj_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


async def create(sessions: Any, person_id: str, label: str, now: datetime) -> tuple[int, str]:
    token = new_token()
    async with transaction(sessions) as session:
        row = ApiToken(person_id=person_id, digest=digest(token), label=label, created_at=now)
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id, token


async def revoke(sessions: Any, token_id: int, now: datetime) -> ApiToken | None:
    async with transaction(sessions) as session:
        row = await session.get(ApiToken, token_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = now
            session.add(row)
        return row


async def owner_of(bot: Any, token: str) -> str | None:
    """The person a presented token speaks for, or None."""
    env_token, env_owner = bot.settings.api_token, bot.settings.api_token_owner
    if env_token and env_owner and hmac.compare_digest(token.encode("utf-8", "surrogatepass"), env_token.encode()):
        return env_owner if env_owner in bot.directory.people else None
    async with bot.sessions() as session:
        row = (await session.exec(select(ApiToken).where(ApiToken.digest == digest(token),
                                                         col(ApiToken.revoked_at).is_(None)))).first()
    return row.person_id if row is not None else None


async def token_command(settings: Settings, args: argparse.Namespace) -> int:
    """`python -m bot token create PERSON [--label …] | revoke ID | list`."""
    from bot.config import ConfigError, load_config
    from models.db import make_engine, migrate, session_factory

    try:
        cfg, _ = load_config(args.config or settings.config_path)
    except ConfigError as e:
        print("配置有误：\n" + str(e))
        return 1
    people = {p.id: p for p in cfg.people}
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        now = SystemClock().now()
        if args.action == "create":
            person = people.get(args.target or "")
            if person is None:
                print(f"配置中没有人员编号“{args.target or ''}”。用法：python -m bot token create 人员编号 --label 备注")
                return 2
            token_id, token = await create(sessions, person.id, args.label, now)
            print(f"已为 {person.name} 创建令牌 #{token_id}（只显示这一次，请妥善保存）：\n{token}")
            return 0
        if args.action == "revoke":
            if not (args.target or "").isdigit():
                print("用法：python -m bot token revoke 令牌编号（见 token list）")
                return 2
            row = await revoke(sessions, int(args.target), now)
            if row is None:
                print(f"没有编号为 #{args.target} 的令牌")
                return 2
            print(f"令牌 #{row.id}（{people[row.person_id].name if row.person_id in people else row.person_id}）已吊销")
            return 0
        async with sessions() as session:
            rows = (await session.exec(select(ApiToken).order_by(col(ApiToken.id)))).all()
        for r in rows:
            who = people[r.person_id].name if r.person_id in people else r.person_id
            state = f"已吊销 {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "有效"
            print(f"#{r.id} {who} {r.label} 创建于 {r.created_at:%Y-%m-%d %H:%M} {state}")
        if not rows:
            print("尚无令牌。创建：python -m bot token create 人员编号")
        return 0
    finally:
        await engine.dispose()
