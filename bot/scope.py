"""Where a person may act: the region of their unit (and below), or everywhere for the province level.

Admins, division heads and reporters act only inside their region; privileged roles and the
province's own groups are changed only by province-level admins."""
from __future__ import annotations

from bot.config import Person
from bot.directory import Directory
from bot.regions import PROVINCE_LEVEL

PRIVILEGED = frozenset({"admin", "duty_officer", "division_head"})


def home(directory: Directory, person: Person | None) -> str | None:
    return directory.region_of(person)


def province_wide(directory: Directory, person: Person | None) -> bool:
    return home(directory, person) == PROVINCE_LEVEL


def covers(directory: Directory, person: Person | None, region: str | None) -> bool:
    """May `person` act on something in `region`?"""
    if province_wide(directory, person):
        return True
    where = home(directory, person)
    return bool(where and region and directory.regions.contains(where, region))


def scope_name(directory: Directory, person: Person | None) -> str:
    return home(directory, person) or "未登记地区"
