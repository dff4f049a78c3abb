"""Who a warning reaches: the named responsible people of each region in scope, and their groups."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.config import Person
from bot.directory import Directory
from bot.regions import RegionTree


@dataclass
class Target:
    person: Person
    region: str
    title: str
    group: str | None = None


@dataclass
class Reach:
    regions: list[str]
    targets: list[Target] = field(default_factory=list)
    groups: dict[str, list[Target]] = field(default_factory=dict)  # group id → targets to @ there
    backups: list[Person] = field(default_factory=list)

    def preview(self, directory: Directory) -> str:
        by_title: dict[str, int] = {}
        for t in self.targets:
            by_title[t.title] = by_title.get(t.title, 0) + 1
        titles = "、".join(f"{k}{v}人" for k, v in by_title.items())
        groups = "、".join(directory.groups[g].name for g in self.groups) or "无（仅私信）"
        return (f"发往{len(self.groups)}个群：{groups}\n点名{len(self.targets)}人（{titles}），"
                f"另有AB角{len(self.backups)}人备叫；共{len(self.targets) + len(self.backups)}人")


def resolve_regions(tree: RegionTree, text: str) -> tuple[list[str], list[str]]:
    """Region keys named in `范围：吉林市、延边州` (全省 = every city); and the names not understood."""
    if "全省" in text or any(tree.resolve(p.strip()) is not None and tree.resolve(p.strip()).level == "province"
                           for p in re.split(r"[、，,\s]+", text) if p.strip()):  # 吉林省 is the whole province
        return [r.key for r in tree.cities()], []
    found, unknown = [], []
    for part in [p.strip() for p in text.replace("，", "、").replace(",", "、").replace(" ", "、").split("、") if p.strip()]:
        key = tree.canonical(part)
        if key is None:
            unknown.append(part)
        elif key not in found:
            found.append(key)
    return found, unknown


def reach(directory: Directory, regions: list[str], titles: list[str]) -> Reach:
    tree = directory.regions
    out = Reach(regions)
    seen: set[str] = set()
    inside: dict[str, bool] = {}  # per region, not per person: a province has 20,000 people in a few hundred

    def within(region: str) -> bool:
        if region not in inside:
            inside[region] = any(tree.contains(scope, region) for scope in regions)
        return inside[region]

    for p in directory.people.values():
        for r in p.responsible:
            if r.title in titles and p.id not in seen and within(r.region):
                seen.add(p.id)
                out.targets.append(Target(p, r.region, r.title, r.group))
    for t in out.targets:
        group = directory.groups.get(t.group or "") or directory.region_group(t.region)
        if group is not None:
            out.groups.setdefault(group.id, []).append(t)
    for t in out.targets:
        b = directory.people.get(t.person.backup or "")
        if b is not None and b.id not in seen:
            seen.add(b.id)
            out.backups.append(b)
    return out

