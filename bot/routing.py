"""Routing is one store: the YAML seeds it, edits in the database override it, and both the chat
(`绑定本群`) and the console change it through here. Every change is a list of per-entity before/after
states, audited, and undoable by applying the befores back.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import GROUP_ROLES, ROLES, Responsibility
from bot.directory import Directory
from bot.regions import PROVINCE_LEVEL
from bot.scope import PRIVILEGED
from models.console import RoutingOverride
from models.core import AuditLog

GROUP_FIELDS = ("role", "region", "account", "ids")
PERSON_FIELDS = ("unit", "roles", "domain", "responsible", "backup", "superior", "ids")
FIELDS = {"group": GROUP_FIELDS, "person": PERSON_FIELDS}
CHANGE, UNDO = "routing_change", "routing_undo"


@dataclass
class Edit:
    """One group or person before and after a change (whole editable state, JSON-able)."""

    kind: str
    id: str
    before: dict[str, Any]
    after: dict[str, Any]

    def changed(self) -> list[str]:
        return [f for f in FIELDS[self.kind] if self.before.get(f) != self.after.get(f)]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "before": self.before, "after": self.after}


def state_of(directory: Directory, kind: str, config_id: str) -> dict[str, Any]:
    entity = _entity(directory, kind, config_id)
    return {f: _dump(getattr(entity, f)) for f in FIELDS[kind]}


def _dump(value: Any) -> Any:
    """A fresh JSON-able copy (fields hold strings, lists of strings, string maps or responsibilities)."""
    if isinstance(value, list):
        return [v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v for v in value]
    return dict(value) if isinstance(value, dict) else value


def _entity(directory: Directory, kind: str, config_id: str) -> Any:
    return (directory.groups if kind == "group" else directory.people)[config_id]


def apply_state(directory: Directory, kind: str, config_id: str, state: dict[str, Any]) -> None:
    """Put a state into the live directory (ids through the directory so its indexes stay right)."""
    entity = _entity(directory, kind, config_id)
    directory.keep_seed(kind, config_id)
    for f, value in state.items():
        if f == "ids":
            directory.set_ids(kind, config_id, dict(value))
        elif f == "responsible":
            entity.responsible = [Responsibility.model_validate(r) for r in value]
        elif f in FIELDS[kind]:
            setattr(entity, f, copy.deepcopy(value))


def plan(directory: Directory, kind: str, config_id: str, changes: dict[str, Any]) -> list[Edit]:
    """The edits a change makes: the entity itself, and any group or person whose chat id it takes over."""
    before = state_of(directory, kind, config_id)
    after = {**copy.deepcopy(before), **copy.deepcopy(changes)}
    edits = [Edit(kind, config_id, before, after)] if after != before else []
    for transport, tid in after.get("ids", {}).items():
        if before.get("ids", {}).get(transport) == tid:
            continue
        owner = directory.group(transport, tid) if kind == "group" else directory.person(transport, tid)
        if owner is not None and owner.id != config_id:
            other = state_of(directory, kind, owner.id)
            moved = copy.deepcopy(other)
            moved["ids"] = {t: v for t, v in other["ids"].items() if t != transport}
            edits.append(Edit(kind, owner.id, other, moved))
    return edits


def validate(directory: Directory, edit: Edit) -> str | None:
    """What is wrong with the after-state, in Chinese; None when it is sound."""
    a, regions = edit.after, directory.regions
    if edit.kind == "group":
        if a["role"] not in GROUP_ROLES:
            return "群的类型不正确。"
        if a["role"] == "region" and not (a.get("region") and a["region"] in regions.by_key):
            return "区域群必须选择所属地区。"
        if a.get("region") and a["region"] not in regions.by_key:
            return f"没有地区“{a['region']}”。"
        return None
    if a.get("unit") and a["unit"] not in directory.units:
        return "所选单位不存在。"
    if any(r not in ROLES for r in a["roles"]):
        return "角色不正确。"
    if "division_head" in a["roles"] and not a.get("domain"):
        return "处长须填写分管领域。"
    for r in a["responsible"]:
        if r.get("region") not in regions.by_key:
            return f"责任地区“{r.get('region')}”不存在。"
        if not r.get("title"):
            return "责任职务不能为空。"
    for f, label in (("backup", "AB角"), ("superior", "上级")):
        if a.get(f) and (a[f] not in directory.people or a[f] == edit.id):
            return f"{label}必须是名录中的另一人。"
    return None


async def commit(session: AsyncSession, directory: Directory, edits: list[Edit], actor: str, at: datetime,
                 summary: str, undo_of: int | None = None) -> AuditLog:
    """Store the after-states over the seeds, audit the whole change as one entry, and apply it to the live
    directory once the transaction commits (a rolled-back change never reaches the running bot)."""
    for e in edits:
        await _store(session, directory, e, actor, at)

    def apply_all(_: Any) -> None:
        for e in edits:
            apply_state(directory, e.kind, e.id, e.after)

    event.listen(session.sync_session, "after_commit", apply_all, once=True)
    entry = AuditLog(at=at, actor=actor, action=UNDO if undo_of else CHANGE,
                     detail={"summary": summary, "edits": [e.to_json() for e in edits],
                             **({"undo_of": undo_of} if undo_of else {})})
    session.add(entry)
    await session.flush()
    return entry


async def _store(session: AsyncSession, directory: Directory, e: Edit, actor: str, at: datetime) -> None:
    seed = directory.seed(e.kind, e.id)
    differs = {f: e.after[f] for f in FIELDS[e.kind] if e.after[f] != seed[f]}
    row = (await session.exec(select(RoutingOverride).where(RoutingOverride.kind == e.kind,
                                                            RoutingOverride.config_id == e.id))).first()
    if not differs:
        if row is not None:
            await session.delete(row)
        return
    row = row or RoutingOverride(kind=e.kind, config_id=e.id, updated_by=actor, updated_at=at)
    row.fields, row.updated_by, row.updated_at = differs, actor, at
    session.add(row)


async def load_overrides(session: AsyncSession, directory: Directory) -> int:
    """At startup: the database's edits over the YAML, oldest first."""
    rows = (await session.exec(select(RoutingOverride).order_by(col(RoutingOverride.updated_at),
                                                                col(RoutingOverride.id)))).all()
    n = 0
    for row in rows:
        if directory.has(row.kind, row.config_id):
            apply_state(directory, row.kind, row.config_id, row.fields)
            n += 1
    return n


async def undo_plan(session: AsyncSession, directory: Directory, audit_id: int) -> list[Edit] | str:
    """The edits that put back what an audited change replaced, or why it cannot be undone."""
    entry = await session.get(AuditLog, audit_id)
    if entry is None or entry.action not in (CHANGE, UNDO):
        return "没有这条路由修改记录。"
    if audit_id in await undone_ids(session, entry.at):
        return "这条修改已经撤销过了。"
    edits = []
    for raw in entry.detail.get("edits", []):
        if not directory.has(raw["kind"], raw["id"]):
            return "相关的群或人员已不在配置中，无法撤销。"
        now = state_of(directory, raw["kind"], raw["id"])
        if now != raw["after"]:
            return "此后相关的群或人员又被修改过，无法直接撤销；请在路由页面直接修改。"
        edits.append(Edit(raw["kind"], raw["id"], now, raw["before"]))
    return edits


async def undone_ids(session: AsyncSession, since: datetime) -> set[int]:
    """Ids of routing changes (made at or after `since`) that a later undo put back."""
    rows = (await session.exec(select(AuditLog).where(AuditLog.action == UNDO, col(AuditLog.at) >= since))).all()
    return {int(r.detail["undo_of"]) for r in rows if r.detail.get("undo_of")}


# -- who may change what: province admins everything; a city admin only inside their city
def home_city(directory: Directory, person: Any) -> str:
    """省本级 for province staff, else the 市州 of the person's unit."""
    return directory.city_of(directory.region_of(person))


def is_province_admin(directory: Directory, person: Any) -> bool:
    return person is not None and "admin" in person.roles and home_city(directory, person) == PROVINCE_LEVEL


def may_route(directory: Directory, person: Any, region: str | None) -> bool:
    """May this admin change routing for something in `region` (None: province-wide, e.g. 省安委办)?"""
    if person is None or "admin" not in person.roles:
        return False
    if is_province_admin(directory, person):
        return True
    return region is not None and directory.city_of(region) == home_city(directory, person)


def refusal(directory: Directory, actor: Any, edits: list[Edit]) -> str | None:
    """Why this admin may not make these edits (every entity touched, before and after), or None."""
    if actor is None or "admin" not in actor.roles:
        return "只有管理员可以修改路由。"
    city = home_city(directory, actor)
    for e in edits:
        if e.kind == "person" and e.id == actor.id and "admin" not in e.after["roles"]:
            return "不能取消自己的管理员角色（以免无人能管理路由），请另一位管理员办理。"
        for state in (e.before, e.after):
            if e.kind == "group":
                if state["role"] in ("anwei", "chuzhang") and not is_province_admin(directory, actor):
                    return "只有省级管理员可以绑定或修改省安委办工作群和处长工作群。"
                if not may_route(directory, actor, state.get("region")):
                    return f"您只能修改{city}范围内的群。"
            else:
                if PRIVILEGED & set(state["roles"]) and not is_province_admin(directory, actor):
                    return "只有省级管理员可以任免或修改管理员、值班员和处长。"
                unit = directory.units.get(state.get("unit") or "")
                places = [unit.region if unit else None] + [r.get("region") for r in state["responsible"]]
                if not all(may_route(directory, actor, p) for p in places):
                    return f"您只能修改{city}范围内的人员。"
    return None
