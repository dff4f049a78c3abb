"""路由 (admins): groups, unbound rooms, people; every edit shows its diff and asks before it is made."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import text
from sqlmodel import func, select

from bot import routing
from bot.config import DOMAINS, ROLES
from bot.directory import Directory
from bot.regions import PROVINCE_LEVEL
from bot.web.app import APP
from bot.web.console import routing_view as view
from bot.web.console.auth import current_user, refuse, require
from handlers.warnings.policy import policy
from handlers.warnings.targets import reach
from models.core import UNKNOWN_CHAT, RawMessage
from models.db import transaction

LEVELS = ("红色", "橙色", "黄色", "蓝色")
STEP_NAMES = {"remention": "再次@", "private": "私信", "call": "语音电话", "sms": "短信", "backup": "叫AB角",
              "notify_superior": "报告上级"}


def add_routes(web_app: web.Application) -> None:
    r = web_app.router
    r.add_get("/console/routing", routing_home, name="console_routing")
    r.add_get("/console/routing/group/{id}", edit_group)
    r.add_get("/console/routing/person/{id}", edit_person)
    r.add_post("/console/routing/preview", preview_change)
    r.add_post("/console/routing/apply", apply_change)


def fingerprint(edits: list[routing.Edit]) -> str:
    """What the diff was computed from: a change made meanwhile by someone else makes it stale."""
    raw = json.dumps([e.to_json() for e in edits], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def _scoped_regions(d: Directory, user: Any) -> list[str]:
    return [k for k in d.regions.by_key if routing.may_route(d, user, k)]


async def unbound_rooms(bot: Any) -> list[dict[str, Any]]:
    """Rooms a transport sees (its room list, or messages from chats we do not know) that no group has."""
    d = bot.directory
    rooms: dict[tuple[str, str], dict[str, Any]] = {}
    for (name, _account), t in bot.transports.items():
        for tid, topic in dict(getattr(t, "rooms", {}) or {}).items():
            if d.group(name, tid) is None:
                rooms[(name, tid)] = {"transport": name, "tid": tid, "topic": topic, "last": None, "count": 0}
    async with bot.sessions() as s:
        q = (select(RawMessage.transport, RawMessage.chat_id, func.max(RawMessage.received_at), func.count())
             .where(text(UNKNOWN_CHAT))  # its partial index: the other messages are never read
             .group_by(RawMessage.transport, RawMessage.chat_id)
             .order_by(func.max(RawMessage.received_at).desc()).limit(200))
        for transport, tid, last, count in (await s.exec(q)).all():
            if d.group(transport, tid) is None:
                row = rooms.setdefault((transport, tid), {"transport": transport, "tid": tid, "topic": None})
                row.update(last=last, count=count)
    return list(rooms.values())


def preview(d: Directory, cfg: Any, level: str, regions: list[str]) -> dict[str, Any]:
    """Alertmanager-style: who a warning of this level for these regions reaches, through which groups."""
    r = reach(d, regions, cfg.warnings.titles)
    lp = policy(cfg, level)
    groups = [{"name": d.groups[g].name, "people": [f"{t.person.name}（{t.region}{t.title}）" for t in ts]}
              for g, ts in r.groups.items()]
    private = [f"{t.person.name}（{t.region}{t.title}）" for t in r.targets
               if not any(t in ts for ts in r.groups.values())]
    steps = "；".join(f"{s.after_min:g}分钟未应答→{STEP_NAMES.get(s.action, '其他')}" for s in lp.steps)
    return {"level": level, "regions": "全省" if len(regions) > 1 else "、".join(regions), "count": len(r.targets), "groups": groups,
            "private": private, "backups": [d.display(b) for b in r.backups], "deadline": f"{lp.deadline_min:g}",
            "steps": steps}


PAGE_ROWS = 300  # a province has thousands of named people: filter, do not scroll


def _city_filter(d: Directory, user: Any, wanted: str) -> str:
    """The city whose groups and people are listed: asked for, else a city admin's own, else all (empty)."""
    if wanted == "全部":
        return ""
    if wanted == PROVINCE_LEVEL or wanted in {r.key for r in d.regions.cities()}:
        return wanted
    return "" if routing.is_province_admin(d, user) else routing.home_city(d, user)


def _in_city(d: Directory, city: str, region: str | None) -> bool:
    return not city or d.city_of(region) == city


@require("admin")
async def routing_home(request: web.Request) -> web.Response:
    bot = request.app[APP]
    d: Directory = bot.directory
    user = await current_user(request)
    level = request.query.get("level", "红色")
    level = level if level in LEVELS else "红色"
    wanted = request.query.get("region", "")
    region = "全省" if wanted == "全省" else d.regions.canonical(wanted) or ""
    scope = [r.key for r in d.regions.cities()] if region == "全省" else [region]
    city = _city_filter(d, user, request.query.get("city", ""))
    q = request.query.get("q", "").strip()
    people = sorted((p for p in d.people.values()
                     if _in_city(d, city, d.region_of(p)) and (not q or q in p.name)),
                    key=lambda p: (d.city_of(d.region_of(p)) != PROVINCE_LEVEL, d.region_of(p) or "", p.name))
    groups = [{"g": g, "may": not routing.refusal(d, user, [routing.Edit("group", g.id, s, s)]),
               "ids": view.show(d, "ids", g.ids)} for g in d.cfg.groups
              if not city or g.region is None or _in_city(d, city, g.region)
              for s in [routing.state_of(d, "group", g.id)]]
    rows = [{"p": p, "unit": (d.unit_of(p).name if d.unit_of(p) else "（无）"), "roles": view.show(d, "roles", p.roles),
             "titles": "；".join(f"{r.region}{r.title}" for r in p.responsible) or "",
             "backup": d.people[p.backup].name if p.backup in d.people else "",
             "superior": d.people[p.superior].name if p.superior in d.people else "",
             "ids": view.show(d, "ids", p.ids) if p.ids else "（未绑定）",
             "may": not routing.refusal(d, user, [routing.Edit("person", p.id, s, s)])}
            for p in people[:PAGE_ROWS] for s in [routing.state_of(d, "person", p.id)]]
    ctx = {
        "groups": groups, "people": rows, "people_total": len(people), "page_rows": PAGE_ROWS,
        "rooms": await unbound_rooms(bot),
        "bindable": [x["g"] for x in groups if x["may"]],
        "levels": LEVELS, "level": level, "region": region,
        "regions": ["全省"] + [r.key for r in d.regions.by_key.values() if r.level != "province"],
        "cities": [PROVINCE_LEVEL] + [r.key for r in d.regions.cities()], "city": city, "q": q,
        "preview": preview(d, bot.cfg, level, scope) if region else None,
        "notice": {"saved": "已保存。可在“审计”页查看并撤销。"}.get(request.query.get("done", "")),
        "transport_name": view.transport_name, "account_name": view.account_name,
    }
    return aiohttp_jinja2.render_template("console/routing.html", request, ctx)


@require("admin")
async def edit_group(request: web.Request) -> web.Response:
    bot = request.app[APP]
    d: Directory = bot.directory
    g = d.groups.get(request.match_info["id"])
    if g is None:
        return refuse(request, "没有这个群。", 404)
    user = await current_user(request)
    state = routing.state_of(d, "group", g.id)
    problem = routing.refusal(d, user, [routing.Edit("group", g.id, state, state)])
    if problem:
        return refuse(request, problem + "未做任何修改。")
    roles = [("region", "区域群"), ("other", "其他")]
    if routing.is_province_admin(d, user):
        roles = [("anwei", "省安委办工作群"), ("chuzhang", "处长工作群"), *roles]
    accounts = sorted({"default", *(gw.account for gw in bot.cfg.gateways), g.account})
    return aiohttp_jinja2.render_template("console/routing_group.html", request, {
        "g": g, "roles": roles, "regions": _scoped_regions(d, user), "accounts": accounts,
        "account_name": view.account_name})


@require("admin")
async def edit_person(request: web.Request) -> web.Response:
    bot = request.app[APP]
    d: Directory = bot.directory
    p = d.people.get(request.match_info["id"])
    if p is None:
        return refuse(request, "没有这个人员。", 404)
    user = await current_user(request)
    state = routing.state_of(d, "person", p.id)
    problem = routing.refusal(d, user, [routing.Edit("person", p.id, state, state)])
    if problem:
        return refuse(request, problem + "未做任何修改。")
    units = [u for u in d.cfg.units if routing.may_route(d, user, u.region)]
    others = sorted((x for x in d.people.values() if x.id != p.id), key=lambda x: (d.region_of(x) or "", x.name))
    return aiohttp_jinja2.render_template("console/routing_person.html", request, {
        "p": p, "units": units, "roles": [(r, view.show(d, "roles", [r])) for r in ROLES], "domains": DOMAINS,
        "others": [(x.id, d.display(x)) for x in others],
        "responsible": "\n".join(f"{r.region} {r.title}" for r in p.responsible)})


def _changes(d: Directory, form: Any) -> tuple[str, str, dict[str, Any]] | str:
    kind, config_id = str(form.get("kind", "")), str(form.get("id", ""))
    if kind not in routing.FIELDS or not d.has(kind, config_id):
        return "没有要修改的群或人员。"
    if form.get("changes"):
        try:
            changes = json.loads(str(form["changes"]))
        except ValueError:
            return "修改内容无法识别，请重新编辑。"
        if not isinstance(changes, dict) or set(changes) - set(routing.FIELDS[kind]):
            return "修改内容无法识别，请重新编辑。"
        return kind, config_id, changes
    if form.get("bind_transport"):  # binding a room the gateway sees
        ids = dict(d.groups[config_id].ids)
        ids[str(form["bind_transport"])] = str(form.get("bind_tid", ""))
        return kind, config_id, {"ids": ids}
    if kind == "group":
        return kind, config_id, view.group_changes(form)
    changes = view.person_changes(d, form)
    if isinstance(changes, str):
        return changes
    keep = {r.region: r.group for r in d.people[config_id].responsible if r.group}
    for r in changes["responsible"]:
        if r["region"] in keep:
            r["group"] = keep[r["region"]]
    return kind, config_id, changes


async def _planned(request: web.Request) -> tuple[list[routing.Edit], dict[str, Any], str] | web.Response:
    bot = request.app[APP]
    d: Directory = bot.directory
    form = await request.post()
    parsed = _changes(d, form)
    if isinstance(parsed, str):
        return refuse(request, parsed + "未做任何修改。", 400)
    kind, config_id, changes = parsed
    edits = routing.plan(d, kind, config_id, changes)
    if not edits:
        return refuse(request, "没有任何改动。", 400, "无需保存")
    for e in edits:
        problem = routing.validate(d, e)
        if problem:
            return refuse(request, problem + "未做任何修改。", 400)
    problem = routing.refusal(d, await current_user(request), edits)
    if problem:
        return refuse(request, problem + "未做任何修改。")
    return edits, {"kind": kind, "id": config_id, "changes": changes}, view.entity_title(d, kind, config_id)


@require("admin")
async def preview_change(request: web.Request) -> web.Response:
    """Step one of every edit: the before/after diff, and a button to confirm it."""
    planned = await _planned(request)
    if isinstance(planned, web.Response):
        return planned
    edits, change, title = planned
    d = request.app[APP].directory
    return aiohttp_jinja2.render_template("console/routing_diff.html", request, {
        "title": title, "diff": view.diff(d, edits), "change": json.dumps(change["changes"], ensure_ascii=False),
        "kind": change["kind"], "id": change["id"], "fingerprint": fingerprint(edits),
        "action": "/console/routing/apply", "undo_of": None})


@require("admin")
async def apply_change(request: web.Request) -> web.StreamResponse:
    """Step two: make exactly the change that was shown, or nothing if the routing moved meanwhile."""
    planned = await _planned(request)
    if isinstance(planned, web.Response):
        return planned
    edits, _change, title = planned
    form = await request.post()
    if form.get("fingerprint") != fingerprint(edits):
        return refuse(request, "确认期间路由已被修改，未做任何修改。请重新编辑。", 409)
    bot = request.app[APP]
    user = await current_user(request)
    assert user is not None
    async with transaction(bot.sessions) as s:
        await routing.commit(s, bot.directory, edits, user.id, bot.clock.now(), f"在控制台修改{title}")
    raise web.HTTPFound("/console/routing?done=saved")
