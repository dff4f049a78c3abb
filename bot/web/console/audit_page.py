"""审计 (admins): every admin action, who and when; routing changes with their diff, each undoable."""
from __future__ import annotations

import json

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from bot import routing
from bot.directory import Directory
from bot.web.app import APP
from bot.web.console import routing_view as view
from bot.web.console.auth import current_user, refuse, require
from bot.web.console.routing_page import fingerprint
from models.core import AuditLog
from models.db import transaction

ACTIONS = {
    routing.CHANGE: "修改路由", routing.UNDO: "撤销路由修改", "bind_group": "绑定群", "bind_person": "绑定人员",
    "warning_preview": "叫应预览", "warning_issue": "发出叫应", "warning_close": "解除叫应", "prompt_letter": "发提示函",
    "commentary_publish": "发布点评", "emergency_on": "提级管理", "emergency_off": "解除提级",
}


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/console/audit", audit_home, name="console_audit")
    web_app.router.add_post("/console/audit/{id:\\d+}/undo", undo_preview)
    web_app.router.add_post("/console/audit/{id:\\d+}/undo/apply", undo_apply)


def summary(d: Directory, entry: AuditLog) -> str:
    """The entry in words, from the keys each action records (never raw configuration ids)."""
    x = entry.detail or {}
    if entry.action in (routing.CHANGE, routing.UNDO):
        return str(x.get("summary", ""))
    if "warning" in x:
        return f"叫应第{x['warning']}号" + (f"，点名{x['people']}人" if "people" in x else "") + (
            f"，{x['region']}" if x.get("region") else "")
    if "domain" in x:
        return f"{x['domain']}点评"
    if "rounds" in x:
        return f"{x['rounds']}轮，{str(x.get('start', ''))[:10]}至{str(x.get('end', ''))[:10]}"
    if entry.action == "bind_group" and x.get("group") in d.groups:
        return f"绑定为{d.groups[x['group']].name}"
    if entry.action == "bind_person" and x.get("person") in d.people:
        return f"绑定{d.display(d.people[x['person']])}"
    return ""


def actor_name(d: Directory, actor: str) -> str:
    if actor == "api":
        return "接口调用"
    person = d.people.get(actor)
    return d.display(person) if person else "（已不在名录）"


@require("admin")
async def audit_home(request: web.Request) -> web.Response:
    bot = request.app[APP]
    d: Directory = bot.directory
    user = await current_user(request)
    async with bot.sessions() as s:
        entries = (await s.exec(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(200))).all()
        undone = await routing.undone_ids(s, entries[-1].at) if entries else set()
    rows = []
    for e in entries:
        edits = [routing.Edit(x["kind"], x["id"], x["before"], x["after"]) for x in (e.detail or {}).get("edits", [])
                 if d.has(x["kind"], x["id"])]
        rows.append({
            "id": e.id, "at": e.at, "actor": actor_name(d, e.actor), "action": ACTIONS.get(e.action, "其他操作"),
            "summary": summary(d, e), "diff": view.diff(d, edits), "undone": e.id in undone,
            "may_undo": bool(edits) and e.id not in undone and routing.refusal(d, user, edits) is None,
        })
    notice = {"undone": "已撤销。"}.get(request.query.get("done", ""))
    return aiohttp_jinja2.render_template("console/audit.html", request, {"rows": rows, "notice": notice})


async def _undo_edits(request: web.Request) -> tuple[list[routing.Edit], int] | web.Response:
    bot = request.app[APP]
    entry_id = int(request.match_info["id"])
    async with bot.sessions() as s:
        edits = await routing.undo_plan(s, bot.directory, entry_id)
    if isinstance(edits, str):
        return refuse(request, edits + "未做任何修改。", 409)
    problem = routing.refusal(bot.directory, await current_user(request), edits)
    if problem:
        return refuse(request, problem + "未做任何修改。")
    return edits, entry_id


@require("admin")
async def undo_preview(request: web.Request) -> web.Response:
    planned = await _undo_edits(request)
    if isinstance(planned, web.Response):
        return planned
    edits, entry_id = planned
    d = request.app[APP].directory
    return aiohttp_jinja2.render_template("console/routing_diff.html", request, {
        "title": f"第{entry_id}条记录", "diff": view.diff(d, edits), "change": json.dumps({}), "kind": "", "id": "",
        "fingerprint": fingerprint(edits), "action": f"/console/audit/{entry_id}/undo/apply", "undo_of": entry_id})


@require("admin")
async def undo_apply(request: web.Request) -> web.StreamResponse:
    planned = await _undo_edits(request)
    if isinstance(planned, web.Response):
        return planned
    edits, entry_id = planned
    if (await request.post()).get("fingerprint") != fingerprint(edits):
        return refuse(request, "确认期间路由已被修改，未做任何修改。", 409)
    bot = request.app[APP]
    user = await current_user(request)
    assert user is not None
    async with transaction(bot.sessions) as s:
        await routing.commit(s, bot.directory, edits, user.id, bot.clock.now(), f"撤销第{entry_id}条路由修改",
                             undo_of=entry_id)
    raise web.HTTPFound("/console/audit?done=undone")
