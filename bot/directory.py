"""Who is who: people, units and groups from the configuration, looked up by transport id."""
from __future__ import annotations

from collections.abc import Iterable

from bot.config import Config, Group, Person, Unit
from bot.events import InboundMessage
from bot.regions import PROVINCE_LEVEL, Region, RegionTree

ROLE_NAMES = {
    "admin": "管理员",
    "duty_officer": "值班员",
    "division_head": "处长",
    "reporter": "报送员",
    "responsible": "责任人",
    "superior": "上级",
}
GROUP_ROLE_NAMES = {"anwei": "省安委办工作群", "chuzhang": "处长工作群", "region": "区域群", "other": "其他"}


class Directory:
    def __init__(self, cfg: Config, regions: RegionTree) -> None:
        self.cfg = cfg
        self.regions = regions
        self.people = {p.id: p for p in cfg.people}
        self.units = {u.id: u for u in cfg.units}
        self.groups = {g.id: g for g in cfg.groups}
        self._bureau: dict[str, Unit] = {}  # a region's bureau (the first configured): every report looks it up
        for u in cfg.units:
            if u.kind == "bureau":
                self._bureau.setdefault(u.region, u)
        self._person_by_tid: dict[tuple[str, str], Person] = {}
        self._group_by_tid: dict[tuple[str, str], Group] = {}
        for p in cfg.people:
            for transport, tid in p.ids.items():
                self._person_by_tid[(transport, tid)] = p
        for g in cfg.groups:
            for transport, tid in g.ids.items():
                self._group_by_tid[(transport, tid)] = g
        # the YAML state of each entity changed since loading: routing edits are stored as differences from it
        self._seed: dict[tuple[str, str], dict] = {}

    # -- lookups by transport id
    def person(self, transport: str, sender_id: str) -> Person | None:
        return self._person_by_tid.get((transport, sender_id))

    def group(self, transport: str, chat_id: str) -> Group | None:
        return self._group_by_tid.get((transport, chat_id))

    def bureau(self, region: str) -> Unit | None:
        return self._bureau.get(region)

    def asked_region(self, event: InboundMessage, args: str) -> Region | None:
        """The place a query is about: one it names (not the province), none for 全省 or the province, else in
        a city's or county's group that place (a 吉林市 group asking 统计 means 吉林市), else none (全省)."""
        named = [r for _, _, r in self.regions.find_all(args)]
        region = next((r for r in named if r.level != "province"), None)
        if region is not None or "全省" in args or any(r.level == "province" for r in named):
            return region
        group = self.group(event.transport, event.chat_id) if event.is_group else None
        local = self.regions.by_key.get(group.region) if group is not None and group.region else None
        return local if local is not None and local.level != "province" else None

    # -- the YAML seed under run-time routing edits (bot/routing.py)
    def has(self, kind: str, config_id: str) -> bool:
        return config_id in (self.groups if kind == "group" else self.people)

    def keep_seed(self, kind: str, config_id: str) -> None:
        """Call before changing an entity: its YAML state is kept the first time (cheaper than copying all)."""
        if (kind, config_id) not in self._seed:
            from bot.routing import state_of  # routing builds on the directory

            self._seed[(kind, config_id)] = state_of(self, kind, config_id)

    def seed(self, kind: str, config_id: str) -> dict:
        self.keep_seed(kind, config_id)
        return self._seed[(kind, config_id)]

    def bind_person(self, transport: str, tid: str, person_id: str) -> None:
        self.set_ids("person", person_id, {**self.people[person_id].ids, transport: tid})

    def bind_group(self, transport: str, tid: str, group_id: str) -> None:
        self.set_ids("group", group_id, {**self.groups[group_id].ids, transport: tid})

    def set_ids(self, kind: str, config_id: str, ids: dict[str, str]) -> None:
        """A group's or person's chat ids; a chat id taken from another entity leaves that one."""
        entities, index = ((self.groups, self._group_by_tid) if kind == "group"
                           else (self.people, self._person_by_tid))
        entity = entities[config_id]
        self.keep_seed(kind, config_id)
        for key in [(t, v) for t, v in entity.ids.items()]:
            if index.get(key) is entity:
                del index[key]
        for transport, tid in ids.items():
            other = index.get((transport, tid))
            if other is not None and other is not entity and other.ids.get(transport) == tid:
                self.keep_seed(kind, other.id)
                del other.ids[transport]
            index[(transport, tid)] = entity
        entity.ids = dict(ids)

    def is_bot(self, transport: str, tid: str) -> bool:
        return self.cfg.bot.ids.get(transport) == tid

    # -- questions about people
    def unit_of(self, person: Person | None) -> Unit | None:
        return self.units.get(person.unit) if person and person.unit else None

    def region_of(self, person: Person | None) -> str | None:
        unit = self.unit_of(person)
        return unit.region if unit else None

    def with_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if role in p.roles]

    def reporters_of(self, unit_id: str) -> list[Person]:
        return [p for p in self.people.values() if "reporter" in p.roles and p.unit == unit_id]

    def division_heads(self, domain: str) -> list[Person]:
        return [p for p in self.with_role("division_head") if p.domain == domain]

    def reporting_units(self) -> list[Unit]:
        """Units that owe a daily report: every bureau with a reporter, and the 省本级 divisions."""
        owing = {p.unit for p in self.with_role("reporter")}
        return [u for u in self.cfg.units if u.id in owing]

    def groups_with_role(self, role: str) -> list[Group]:
        return [g for g in self.cfg.groups if g.role == role]

    def region_group(self, region: str | None) -> Group | None:
        """The group of the region, or of its city when the county has none."""
        r = self.regions.by_key.get(region) if region else None
        while r is not None:
            for g in self.groups_with_role("region"):
                if g.region == r.key:
                    return g
            r = self.regions.by_key.get(r.parent) if r.parent else None
        return None

    def city_of(self, region: str | None) -> str:
        """The 市州 a region belongs to (itself for a city); 省本级 for the province."""
        r = self.regions.by_key.get(region or "")
        if r is None:
            return region or "未知地区"
        if r.level == "province":
            return PROVINCE_LEVEL
        return r.city or r.key

    def members(self, group: Group) -> list[Person]:
        if group.members is not None:
            return [self.people[m] for m in group.members if m in self.people]
        if group.role == "region" and group.region:
            return [p for p in self.people.values() if self._belongs(p, group.region)]
        if group.role == "chuzhang":
            return [p for p in self.people.values() if self.region_of(p) == PROVINCE_LEVEL or self._is_city(p)]
        return list(self.people.values())

    def display(self, person: Person) -> str:
        unit = self.unit_of(person)
        return f"{person.name}（{unit.name}）" if unit else person.name

    def tid(self, person: Person, transport: str) -> str | None:
        return person.ids.get(transport)

    def names(self, people: Iterable[Person]) -> str:
        return "、".join(p.name for p in people)

    def _belongs(self, p: Person, region: str) -> bool:
        home = self.region_of(p)
        if home == PROVINCE_LEVEL:
            return True
        regions = [home] + [r.region for r in p.responsible]
        return any(x and self.regions.contains(region, x) for x in regions)

    def _is_city(self, p: Person) -> bool:
        r = self.regions.by_key.get(self.region_of(p) or "")
        return r is not None and r.level == "city" and ("admin" in p.roles or "responsible" in p.roles)
