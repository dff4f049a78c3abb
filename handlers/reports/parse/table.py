"""Tables: text pasted from Excel (tab-separated) and .xlsx attachments, in the six-column layout."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from handlers.reports.parse.fields import label_kind
from handlers.reports.parse.hazards import split_hazards
from handlers.reports.parse.model import Record
from handlers.reports.parse.names import split_names
from handlers.reports.parse.records import split_enterprise

MIN_COLUMNS = 3


def header_map(cells: list[str]) -> dict[int, str] | None:
    """Column index → field kind, if this row is the six-column header."""
    kinds = {i: label_kind(c) for i, c in enumerate(cells) if c and c.strip()}
    found = {i: k for i, k in kinds.items() if k and k not in ("ignore", "date")}
    if "enterprise" in found.values() and len(found) >= MIN_COLUMNS:
        return found
    return None


def record_from_row(row: dict[str, str]) -> Record | None:
    enterprise = (row.get("enterprise") or "").strip()
    if not enterprise or enterprise.startswith(("合计", "总计", "小计")):
        return None
    name, site = split_enterprise(enterprise)
    cell = row.get("hazards") if "hazards" in row else row.get("hazards_rect")
    hazards, rect_inline, per = split_hazards(cell or "")
    rect = _cell(row.get("rectification")) or rect_inline
    return Record(
        hazards_blank=cell is not None and not str(cell).strip(),
        enterprise=name,
        inspecting_unit=_cell(row.get("inspecting_unit")),
        location=_cell(row.get("location")) or site,
        hazards=hazards,
        inspectors=split_names(row.get("inspectors")),
        rectification=rect if hazards else None,
        hazard_rectifications=per,
    )


def _cell(value: str | None) -> str | None:
    if value is None:
        return None
    v = str(value).strip()
    return None if v in ("", "/", "无", "—", "-", "None") else v


def split_tsv(text: str) -> tuple[str, list[dict[str, str]], str] | None:
    """(text above the header, rows as kind→cell, text below) for a pasted table, else None."""
    if "\t" not in text and (tabbed := _spaced_table(text)) is not None:
        text = tabbed
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.count("\t") < 2:
            continue
        mapping = header_map(line.split("\t"))
        if mapping is None:
            continue
        body = "\n".join(lines[i + 1:])
        rows = []
        after: list[str] = []
        for cells in csv.reader(io.StringIO(body), delimiter="\t", quotechar='"'):
            if len(cells) < 2:
                if any(c.strip() for c in cells):
                    after.append("".join(cells))
                continue
            if any(c.strip().startswith(("合计", "总计", "小计")) for c in cells):
                after.append(" ".join(c for c in cells if c.strip()))
                continue
            rows.append({kind: cells[idx] for idx, kind in mapping.items() if idx < len(cells)})
        return "\n".join(lines[:i]), rows, "\n".join(after)
    return None


_SPACES = re.compile(r"[ \u3000]{2,}")
_SPACE = re.compile(r"[ \u3000]+")


def _spaced_table(text: str) -> str | None:
    """A table pasted with spaces where the cells were (as a phone pastes one from Excel), with tabs, when it
    is one beyond doubt: a header row of the six columns, and every line under it the same number of cells
    (split at runs of spaces, else at single spaces). Anything less is left as text."""
    if "单位" not in text and "企业" not in text and "对象" not in text:  # no header could name the enterprise
        return None
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.count(" ") + line.count("\u3000") < MIN_COLUMNS - 1:  # too few gaps for a header: most lines
            continue
        head = _SPACE.split(line.strip())
        if len(head) < MIN_COLUMNS or header_map(head) is None:
            continue
        rows = []
        for row in (x.strip() for x in lines[i + 1:]):
            if not row:
                continue
            cells = next((c for c in (_SPACES.split(row), _SPACE.split(row)) if len(c) == len(head)), None)
            if cells is None:
                return None
            rows.append("\t".join(cells))
        return "\n".join([*lines[:i], "\t".join(head), *rows]) if rows else None
    return None


def read_xlsx(path: Path) -> tuple[str, list[dict[str, str]], str]:
    """(title text, rows, text below) from the first sheet that has the six-column header."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            title: list[str] = []
            mapping: dict[int, str] | None = None
            rows: list[dict[str, str]] = []
            after: list[str] = []
            for values in ws.iter_rows(values_only=True):
                cells = ["" if v is None else str(v) for v in values]
                if mapping is None:
                    mapping = header_map(cells)
                    if mapping is None and any(cells):
                        title.append(" ".join(c for c in cells if c))
                    continue
                if not any(c.strip() for c in cells):
                    continue
                row = {kind: cells[idx] for idx, kind in mapping.items() if idx < len(cells)}
                if (row.get("enterprise") or "").strip():
                    rows.append(row)
                else:
                    after.append(" ".join(c for c in cells if c))
            if mapping is not None:
                return "\n".join(title), rows, "\n".join(after)
    finally:
        wb.close()
    raise ValueError("表中没有找到表头（检查单位、受检单位、检查地点、发现的问题隐患、检查人员、整改情况）")
