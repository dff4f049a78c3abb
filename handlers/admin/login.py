"""`登录` in a private chat: a one-time console link and code for the sender, valid five minutes."""
from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Person
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.events import InboundMessage
from bot.login import CONSOLE_ROLES, issue_login, may_log_in
from bot.outbox import Outbox

router = Router(__name__, "控制台")


def login_text(base_url: str, token: str, code: str) -> str:
    return (f"控制台登录链接（5分钟内有效，仅限本人，用后作废）：\n{base_url}/console/login?t={token}\n"
            f"或在登录页输入登录码：{code}\n请勿转发。")


@router.message(Command("登录", "登陆", "控制台", usage="登录（私聊）：获取控制台登录链接", roles=tuple(CONSOLE_ROLES)))
async def login(event: InboundMessage, args: str, person: Person | None, session: AsyncSession, outbox: Outbox,
                app: Any) -> str:
    if event.is_group:
        outbox.reply(event, "登录码只在私聊中发放：请私聊我发送“登录”。")
        return "login_bad"
    if not may_log_in(person):
        outbox.reply(event, "控制台仅供管理员、值班员和处长使用，您的账号不能登录。")
        return "login_denied"
    assert person is not None
    issued = await issue_login(session, person, event.received_at)
    outbox.reply(event, login_text(app.settings.base_url(), issued.token, issued.code))
    return "login_code"
