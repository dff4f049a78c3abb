"""The consolidated 日报表 workbook: 汇总, 附表1 省本级, 附表2 市县, in the six-column layout."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from bot.directory import Directory
from bot.regions import PROVINCE_LEVEL
from bot.xlsx import safe_row
from handlers.daily.figures import DayData, Figures, by_city

COLUMNS = ("检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况")
WIDTHS = (24, 30, 22, 50, 16, 30)
SUMMARY_COLUMNS = ("地区", "报送单位数", "检查组", "检查人次", "检查企业", "发现隐患", "已整改")


def detail_rows(directory: Directory, data: DayData, province: bool) -> Iterable[tuple[str, ...]]:
    for rep in data.reports:
        if (directory.city_of(rep.region) == PROVINCE_LEVEL) != province:
            continue
        recs = data.records.get(rep.id or 0, [])
        unit = rep.unit_name or rep.region or ""
        if not recs:
            yield (unit, "（汇总）", "", data.figures(rep).line(), "", "")
        for rec in recs:
            hz = data.hazards.get(rec.id or 0, [])
            hazards = "；".join(f"{i}.{h.text}" for i, h in enumerate(hz, 1)) if len(hz) > 1 else (hz[0].text if hz else "未发现问题隐患")
            yield (rec.inspecting_unit or unit, rec.enterprise, rec.location or "", hazards, "、".join(rec.inspectors),
                   rec.rectification or ("/" if not hz else ""))


def build_workbook(directory: Directory, data: DayData, missing: list[str], path: Path) -> Path:
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    day = f"{data.report_date.year}年{data.report_date.month}月{data.report_date.day}日"
    summary.append(safe_row([f"全省应急管理体系直接监管检查日报表（{day}）"]))
    summary.append(SUMMARY_COLUMNS)
    total = Figures()
    for city, fig in sorted(by_city(directory, data).items(), key=lambda kv: kv[0] != PROVINCE_LEVEL):
        summary.append(safe_row([city, fig.reports, fig.teams, fig.inspectors, fig.enterprises, fig.hazards, fig.rectified]))
        total.add(fig)
    summary.append(safe_row(["合计", total.reports, total.teams, total.inspectors, total.enterprises, total.hazards, total.rectified]))
    summary.append(safe_row([]))
    summary.append(safe_row([f"未报送单位（{len(missing)}个）", "、".join(missing) or "无"]))
    _style(summary, (14, 12, 10, 10, 10, 10, 10))
    for title, province in (("附表1 省本级", True), ("附表2 市县", False)):
        ws = wb.create_sheet(title)
        ws.append(safe_row([f"{title}（{day}）"]))
        ws.append(COLUMNS)
        for row in detail_rows(directory, data, province):
            ws.append(safe_row(row))
        _style(ws, WIDTHS)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _style(ws: object, widths: tuple[int, ...]) -> None:
    from openpyxl.utils import get_column_letter

    ws["A1"].font = Font(bold=True, size=13)  # type: ignore[index]
    for cell in ws[2]:  # type: ignore[index]
        cell.font = Font(bold=True)
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w  # type: ignore[attr-defined]
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in ws.iter_rows(min_row=3, min_col=4, max_col=4):  # type: ignore[attr-defined]
        row[0].alignment = wrap  # only the long hazard column wraps; per-cell styles are what costs
