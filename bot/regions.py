"""The region tree (省 → 市州 → 县市区) and name resolution."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PROVINCE_LEVEL = "省本级"


@dataclass
class Region:
    key: str  # canonical name used everywhere: 吉林市龙潭区, 梨树县, 吉林市, 省本级
    name: str  # the name on its own: 龙潭区
    level: str  # province | city | county
    parent: str | None
    aliases: list[str] = field(default_factory=list)

    @property
    def city(self) -> str | None:
        if self.level == "city":
            return self.key
        return self.parent if self.level == "county" else None


_PLACE = re.compile(r"[\u4e00-\u9fff]{2,8}?(?:自治州|自治县|市|县|区|州|旗|盟)")  # not 全市, 辖区


class RegionTree:
    def __init__(self, province: str, regions: list[Region]) -> None:
        self.province = province
        self.by_key = {r.key: r for r in regions}
        self._names: dict[str, str] = {}
        for r in regions:
            for n in [r.key, r.name, *r.aliases]:
                self._names.setdefault(n, r.key)
        self._names.setdefault(province, PROVINCE_LEVEL)
        self._names.setdefault("省应急厅", PROVINCE_LEVEL)
        self._names.setdefault("省应急管理厅", PROVINCE_LEVEL)
        self._names.setdefault("省本级", PROVINCE_LEVEL)
        names = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(n) for n in names))

    @classmethod
    def load(cls, path: Path) -> RegionTree:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict) -> RegionTree:
        extra = data.get("extra_aliases") or {}
        regions = [Region(PROVINCE_LEVEL, PROVINCE_LEVEL, "province", None, [data["name"]])]
        for city in data["cities"]:
            cname = city["name"]
            regions.append(Region(cname, cname, "city", None, [*city.get("aliases", []), *_short(cname)]))
            for county in city.get("counties", []):
                key = cname + county if county.endswith("区") else county
                aliases = [*extra.get(county, []), *_short(county)]
                if key != county:
                    aliases.append(county)
                regions.append(Region(key, county, "county", cname, aliases))
        return cls(data["name"], regions)

    def cities(self) -> list[Region]:
        return [r for r in self.by_key.values() if r.level == "city"]

    def children(self, key: str) -> list[Region]:
        return [r for r in self.by_key.values() if r.parent == key]

    def resolve(self, name: str | None) -> Region | None:
        if not name:
            return None
        name = name.strip()
        if name.startswith(self.province) and name != self.province:
            name = name[len(self.province):]
        key = self._names.get(name)
        return self.by_key.get(key) if key else None

    def canonical(self, name: str | None) -> str | None:
        """The region key for a name as written, including `辽源市东辽县`."""
        r = self.resolve(name)
        if r is not None:
            return r.key
        spans = self.find_all(name or "")
        return spans[-1][2].key if spans and spans[-1][1] == len(name or "") else None

    def find_all(self, text: str) -> list[tuple[int, int, Region]]:
        """Every region name in the text, longest match first at each place."""
        found = []
        for m in self._pattern.finditer(text):
            found.append((m.start(), m.end(), self.by_key[self._names[m.group()]]))
        return found

    def unknown_place(self, text: str) -> str | None:
        """A place name in the text (…市, …县, …区) that is not one of ours: `隐患 北京市` must not quietly
        answer for the whole province."""
        known = [(a, b) for a, b, _ in self.find_all(text)]
        for m in _PLACE.finditer(text):  # ours: inside one of ours (吉林市龙潭区), or ending with one (查吉林市)
            if not any((a <= m.start() and m.end() <= b) or b == m.end() for a, b in known):
                return m.group()
        return None

    def like(self, word: str, limit: int = 2) -> list[str]:
        """Our places whose name begins with `word`, for "did you mean" (吉林 → 吉林市, 全省): cities first,
        then the province (shown as 全省), then counties; each once."""
        rank = {"city": 0, "province": 1, "county": 2}
        found = {key for name, key in self._names.items() if len(word) >= 2 and name.startswith(word) and name != word}
        ordered = sorted((self.by_key[k] for k in found), key=lambda r: (rank[r.level], len(r.key), r.key))
        return ["全省" if r.key == PROVINCE_LEVEL else r.key for r in ordered][:limit]

    def contains(self, outer: str, inner: str) -> bool:
        """Is region `inner` inside (or equal to) region `outer`?"""
        r = self.by_key.get(inner)
        while r is not None:
            if r.key == outer:
                return True
            r = self.by_key.get(r.parent) if r.parent else None
        return False

    def choices(self, limit: int = 12) -> str:
        keys = [r.key for r in self.cities()]
        return ", ".join(keys[:limit]) + (", …" if len(keys) > limit else "")


def _short(name: str) -> list[str]:
    """梨树县 → 梨树; 吉林市 keeps its 市 (吉林 is the province)."""
    if name.endswith(("自治县", "自治州")) or name in {"吉林市"}:
        return []
    if len(name) >= 3 and name[-1] in "市县区":
        return [name[:-1]]
    return []
