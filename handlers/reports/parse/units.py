"""The reporting unit and its region, as written in the message."""
from __future__ import annotations

import re

from bot.regions import PROVINCE_LEVEL, Region, RegionTree

_SUFFIX = re.compile(
    r"(应急管理局|应急管理厅|应急局|应急厅|安委办联合检查组|安委会办公室|安委办|联合检查组|执法大队|执法支队|应急管理综合行政执法大队)"
)
_PROVINCE_UNIT = re.compile(r"(?:吉林)?省(?:应急管理厅|应急厅)")
_PROVINCE = re.compile(r"省本级|(?:吉林)?省级")


def find_unit(text: str, tree: RegionTree) -> tuple[str | None, str | None, int]:
    """(unit as written, region key, where it ends) from a header; the first unit wins."""
    best: tuple[str | None, str | None, int, int] | None = None
    prov = _PROVINCE_UNIT.search(text)
    if prov:
        best = ("省应急厅", PROVINCE_LEVEL, prov.end(), prov.start())
    elif _PROVINCE.search(text):
        m = _PROVINCE.search(text)
        assert m is not None
        best = (None, PROVINCE_LEVEL, m.end(), m.start())
    spans = tree.find_all(text)
    for i, (start, end, region) in enumerate(spans):
        if region.level == "province" or len(text[start:end]) < 2:
            continue
        m = _SUFFIX.match(text, end)
        if not m:
            continue
        # a city written before its county: 辽源市东辽县应急管理局
        prefix: Region | None = None
        if i > 0 and spans[i - 1][1] == start and spans[i - 1][2].key == region.parent:
            prefix = spans[i - 1][2]
            start = spans[i - 1][0]
        unit, key = _unit_and_region(text, start, m.end(), region, prefix)
        if best is None or start < best[3]:
            best = (unit, key, m.end(), start)
        break
    if best is None:
        return None, _region_only(text, tree), 0
    return best[0], best[1], best[2]


def _unit_and_region(text: str, start: int, end: int, region: Region, prefix: Region | None) -> tuple[str, str]:
    written = text[start:end]
    if prefix is None or region.name.endswith("区"):
        return written, region.key
    # counties and county-level cities: the unit is named by itself, the region keeps the city
    return written[len(_name_as_written(written, prefix)):], prefix.key + region.name


def _name_as_written(written: str, city: Region) -> str:
    for name in sorted([city.key, city.name, *city.aliases], key=len, reverse=True):
        if written.startswith(name):
            return name
    return ""


def _region_only(text: str, tree: RegionTree) -> str | None:
    for start, end, region in tree.find_all(text[:40]):
        if region.level != "province" and end - start >= 3:
            return region.key
    return None
