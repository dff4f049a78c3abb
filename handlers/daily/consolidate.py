"""The consolidated 日报表: one short text for the 处长工作群, plus the workbook."""
from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Unit
from bot.directory import Directory
from bot.regions import PROVINCE_LEVEL
from handlers.daily.excel import build_workbook
from handlers.daily.figures import (
    DayData,
    Figures,
    by_city,
    load_day,
    missing_units,
    registered_ids,
    reviewing_ids,
    unit_label,
)
from models.reports import NEEDS_REVIEW


def file_name(report_date: date) -> str:
    return f"日报表_{report_date.isoformat()}.xlsx"


def summary_text(directory: Directory, data: DayData, missing: list[Unit], file: str | None = None,
                 reviewing: set[str | None] | None = None) -> str:
    """Each missing unit is named once: a 省本级 unit under 附表1, a city or county unit under 附表2."""
    d = data.report_date
    cities = by_city(directory, data)
    total = Figures()
    for fig in cities.values():
        total.add(fig)
    expected = len(directory.reporting_units())
    late = sum(r.late for r in data.reports if r.status != NEEDS_REVIEW)
    lines = [f"【{d.month}月{d.day}日日报表】",
             f"全省：应报{expected}个单位，已报{total.reports}个" + (f"（逾期{late}个）" if late else "") + f"；{total.line()}。"]
    prov = cities.pop(PROVINCE_LEVEL, None)
    reviewing = reviewing or set()
    prov_missing = [unit_label(u, reviewing) for u in missing if directory.city_of(u.region) == PROVINCE_LEVEL]
    local_missing = [unit_label(u, reviewing) for u in missing if directory.city_of(u.region) != PROVINCE_LEVEL]
    not_in = f"未报送：{'、'.join(prov_missing)}" if prov_missing else ""
    lines.append(f"附表1 省本级：{prov.line()}" + (f"；{not_in}" if not_in else "") + "。" if prov
                 else f"附表1 省本级：{not_in or '无应报单位'}。")
    lines.append("附表2 市县：")
    for city in [c.key for c in directory.regions.cities()]:
        fig = cities.get(city)
        if fig:
            lines.append(f"· {city}：{fig.line()}")
    lines.append(f"市县未报送（{len(local_missing)}个）：{'、'.join(local_missing)}" if local_missing else "市县未报送：无")
    if file:
        lines.append(f"明细见附件 {file}")
    return "\n".join(lines)


async def consolidated(session: AsyncSession, directory: Directory, report_date: date, files: Path,
                       round_no: int | None = None) -> tuple[str, Path]:
    data = await load_day(session, report_date, round_no)
    missing = missing_units(directory, registered_ids(data.reports))
    reviewing = reviewing_ids(data.reports)
    path = files / file_name(report_date)
    await asyncio.to_thread(build_workbook, directory, data, [unit_label(u, reviewing) for u in missing], path)
    return summary_text(directory, data, missing, path.name, reviewing), path
