"""系统: each transport account's state, last event and reconnects; the outbox backlog per account with
the time to drain it; failed sends with a retry button."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.audit import audit
from bot.backlog import backlog, failed_sends, retry_failed
from bot.web.app import APP
from bot.web.console.auth import current_user, refuse, require
from models.db import transaction

TRANSPORT_NAMES = {"sim": "模拟器", "wechaty": "微信", "voice": "语音电话", "sms": "短信"}
STATES = {"running": "运行中", "stopped": "已停止", "connected": "已连接", "logged_in": "已登录", "connecting": "连接中",
          "disconnected": "已断开", "logged_out": "已登出", "starting": "启动中", "reconnecting": "重连中"}
REASONS = {"reply": "回复", "warning": "叫应", "escalation": "催叫", "rolling": "进度", "remind": "催报",
           "deadline": "截止通知", "consolidated": "日报表", "commentary": "日点评", "commentary_draft": "点评草稿",
           "overdue": "逾期提醒", "unwoken": "未叫醒名单", "warning_summary": "叫应总结", "transport": "连接通知"}


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/console/system", system_page, name="console_system")
    web_app.router.add_post("/console/system/retry/{id:\\d+}", retry)


def transport_rows(bot: Any) -> list[dict[str, Any]]:
    rows = []
    for t in bot.transports.values():
        s = t.status()
        last = s.get("last_event")
        rows.append({"transport": TRANSPORT_NAMES.get(s.get("transport", t.name), "其他"), "account": account_name(s.get("account")),
                     "state": STATES.get(str(s.get("state")), "未知"), "ok": s.get("state") in ("running", "logged_in", "connected"),
                     "last_event": datetime.fromisoformat(last) if isinstance(last, str) else last,
                     "reconnects": s.get("reconnects", 0), "who": s.get("logged_in_as") or ""})
    return rows


def account_name(account: str | None) -> str:
    return "默认" if account in (None, "", "default") else account


def chat_name(bot: Any, transport: str, chat_id: str) -> str:
    """Where a send was going, by name: a group, a person, or a phone."""
    d = bot.directory
    if chat_id.startswith("dm:"):
        p = d.person(transport, chat_id[3:])
        return f"私信 {p.name}" if p else "私信（未登记）"
    if chat_id.startswith("tel:"):
        p = next((q for q in d.people.values() if q.phone and chat_id == f"tel:{q.phone}"), None)
        return f"电话 {p.name}" if p else "电话"
    g = d.group(transport, chat_id)
    return g.name if g else "未绑定的群"


@require("admin", "duty_officer")
async def system_page(request: web.Request) -> web.Response:
    bot = request.app[APP]
    async with bot.sessions() as session:
        accounts = await backlog(session, bot.cfg.outbox)
        failed = await failed_sends(session)
    return aiohttp_jinja2.render_template("console/system.html", request, {
        "transports": transport_rows(bot), "accounts": accounts, "failed": failed, "reasons": REASONS,
        "names": TRANSPORT_NAMES, "account_name": account_name, "chat_name": lambda row: chat_name(bot, row.transport, row.chat_id)})


@require("admin", "duty_officer")
async def retry(request: web.Request) -> web.StreamResponse:
    bot = request.app[APP]
    user = await current_user(request)
    assert user is not None
    now = bot.clock.now()
    entry = int(request.match_info["id"])
    async with transaction(bot.sessions) as session:
        if not await retry_failed(session, entry, now):
            return refuse(request, "该消息已重新发送或不再是发送失败状态。", 409)
        audit(session, user.id, "outbox_retry", now, entry=entry)
    bot.outbox_sender.reread()
    raise web.HTTPSeeOther("/console/system")
