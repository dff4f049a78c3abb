"""Routing as people read it: Chinese labels and values for states and diffs, and form parsing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.directory import Directory
from bot.routing import FIELDS, Edit
from bot.web.console.auth import group_role_name, role_names

TRANSPORT_NAMES = {"sim": "模拟器", "wechaty": "微信"}
LABELS = {
    "role": "类型", "region": "地区", "account": "服务账号", "ids": "绑定的聊天号",
    "unit": "单位", "roles": "角色", "domain": "分管领域", "responsible": "责任地区与职务",
    "backup": "AB角", "superior": "上级",
}


@dataclass
class Row:
    label: str
    before: str
    after: str


def transport_name(name: str) -> str:
    return TRANSPORT_NAMES.get(name, "其他通道")


def chat_id(directory: Directory, tid: str) -> str:
    """A transport's chat id; the demo's simulator reuses configuration ids, so name those instead."""
    if tid in directory.groups:
        return f"{directory.groups[tid].name}的群聊"
    if tid in directory.people:
        return directory.people[tid].name
    return tid


def account_name(account: str | None) -> str:
    return "默认账号" if not account or account == "default" else f"账号 {account}"


def show(directory: Directory, field: str, value: Any) -> str:
    """One field's value in words: names, never configuration ids or English role names."""
    if value in (None, "", [], {}):
        return "（无）"
    if field == "role":
        return group_role_name(value)
    if field == "roles":
        return role_names(value)
    if field == "account":
        return account_name(value)
    if field == "ids":
        return "；".join(f"{transport_name(t)}：{chat_id(directory, v)}" for t, v in sorted(value.items()))
    if field == "unit":
        unit = directory.units.get(value)
        return unit.name if unit else "（未知单位）"
    if field in ("backup", "superior"):
        person = directory.people.get(value)
        return directory.display(person) if person else "（未知人员）"
    if field == "responsible":
        return "；".join(f"{r['region']} {r['title']}" for r in value)
    return str(value)


def entity_title(directory: Directory, kind: str, config_id: str) -> str:
    if kind == "group":
        return f"群：{directory.groups[config_id].name}"
    return f"人员：{directory.display(directory.people[config_id])}"


def diff_rows(directory: Directory, edit: Edit) -> list[Row]:
    return [Row(LABELS[f], show(directory, f, edit.before.get(f)), show(directory, f, edit.after.get(f)))
            for f in edit.changed()]


def diff(directory: Directory, edits: list[Edit]) -> list[dict[str, Any]]:
    """What the diff table shows: per entity, its title and the changed fields before → after."""
    return [{"title": entity_title(directory, e.kind, e.id), "rows": diff_rows(directory, e),
             "displaced": i > 0} for i, e in enumerate(edits)]


def parse_responsible(directory: Directory, text: str) -> list[dict[str, str]] | str:
    """`吉林市 包保责任人` per line (or separated by ；) → responsibilities; the problem in words if any."""
    out = []
    for line in text.replace("；", "\n").replace(";", "\n").splitlines():
        parts = line.split()
        if not parts:
            continue
        region = directory.regions.canonical(parts[0])
        if region is None:
            return f"责任地区“{parts[0]}”不认识，请写地区全称，如“吉林市 包保责任人”。"
        title = parts[1] if len(parts) > 1 else "包保责任人"
        out.append({"region": region, "title": title})
    return out


def person_changes(directory: Directory, form: Any) -> dict[str, Any] | str:
    roles = [r for r in form.getall("roles", []) if r]
    responsible = parse_responsible(directory, str(form.get("responsible", "")))
    if isinstance(responsible, str):
        return responsible
    changes: dict[str, Any] = {
        "unit": str(form.get("unit", "")) or None,
        "roles": roles,
        "domain": str(form.get("domain", "")) or None,
        "responsible": responsible,
        "backup": str(form.get("backup", "")) or None,
        "superior": str(form.get("superior", "")) or None,
    }
    return {k: v for k, v in changes.items() if k in FIELDS["person"]}


def group_changes(form: Any) -> dict[str, Any]:
    return {"role": str(form.get("role", "")), "region": str(form.get("region", "")) or None,
            "account": str(form.get("account", "")).strip() or "default"}
