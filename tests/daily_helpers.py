"""Helpers for whole-day scenarios."""
from __future__ import annotations

from datetime import date

from bot.clock import local
from tests.harness import Harness


def simple_report(unit_name: str, day: date, enterprise: str = "示范化工有限公司", hazard: str = "储罐区可燃气体报警器未检定") -> str:
    return (f"{unit_name}{day.month}月{day.day}日监督检查情况\n检查单位：{unit_name}\n受检单位：{enterprise}\n检查地点：工业园区\n"
            f"发现的问题隐患：{hazard}\n检查人员：张三、李四\n整改情况：责令限期5日内整改")


async def post_all(h: Harness, day: date, skip: set[str] = frozenset()) -> int:
    """Every reporting unit's reporter posts a report for `day` in its region group (or privately)."""
    d = h.app.directory
    n = 0
    for unit in d.reporting_units():
        if unit.id in skip:
            continue
        reporter = d.reporters_of(unit.id)[0]
        group = d.region_group(unit.region)
        chat = group.ids["sim"] if group else f"dm:{reporter.id}"
        await h.say(chat, reporter.id, simple_report(unit.name, day, enterprise=f"{unit.name[:3]}示范化工有限公司"))
        n += 1
    return n


async def run_day_until(h: Harness, day: date, hour: int, minute: int = 0, step_min: int = 5) -> None:
    await h.run_until(local(day, hour, minute), step=__import__("datetime").timedelta(minutes=step_min))
