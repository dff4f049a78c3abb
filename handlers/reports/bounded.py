"""Bounded work per message: reports are parsed off the event loop, within a time budget and size limits,
before the unit of work opens (so SQLite's writer is never held while a report is read), and only for
senders who may report.

Over a limit the message is still stored; the sender gets one line saying how to send it instead.
Workbooks are measured from their compressed XML before openpyxl sees them: rows and cells are counted
in the sheet data itself, never taken from `<dimension>`.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bot.events import InboundMessage
from bot.text import clean
from handlers.reports import workers

UNKNOWN_PROBE_CHARS = 2_000  # an unknown sender's text is only read far enough to say "register first"
_ROW = re.compile(rb"<(?:\w+:)?row[\s>]")
_CELL = re.compile(rb"<(?:\w+:)?c[\s>/]")
_CHUNK = 1 << 18  # the regex scans hold the GIL: 256 KB at a time keeps each under a few milliseconds


@dataclass(frozen=True)
class Limits:
    budget_s: float = 2.0
    max_text_chars: int = 100_000
    max_rows: int = 3_000  # rows of one sheet, and records of one report
    max_cells: int = 200_000
    max_sheet_bytes: int = 64 * 1024 * 1024  # uncompressed sheet XML

    def too_long(self) -> str:
        return f"内容过长，请分条发送或上传Excel（不超过{self.max_rows}行）。"


class TooLarge(Exception):
    pass


def measure_workbook(path: Path, limits: Limits) -> None:
    """Raise TooLarge past the row, cell or size caps; ValueError if it is not an .xlsx at all."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError("文件不是有效的 .xlsx 工作簿") from exc
    with zf:
        sheets = [i for i in zf.infolist() if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")]
        cells = 0
        for info in sheets:
            rows = 0
            seen = 0
            tail = b""
            with zf.open(info) as f:  # streamed: a zip bomb is stopped at the cap, not inflated whole
                while chunk := f.read(_CHUNK):
                    seen += len(chunk)
                    if seen > limits.max_sheet_bytes:
                        raise TooLarge("sheet bytes")
                    data = tail + chunk
                    cut = max(0, len(data) - 16)  # a tag split over two chunks is counted in the next one
                    rows += len(_ROW.findall(data, 0, cut))
                    cells += len(_CELL.findall(data, 0, cut))
                    tail = data[cut:]
                    if rows > limits.max_rows or cells > limits.max_cells:
                        raise TooLarge("rows or cells")
            rows += len(_ROW.findall(tail))
            cells += len(_CELL.findall(tail))
            if rows > limits.max_rows or cells > limits.max_cells:
                raise TooLarge("rows or cells")


def read_workbook(parser: Any, path: Path, caption: str, at: Any, limits: Limits) -> Any:
    measure_workbook(path, limits)
    return parser.parse_xlsx(path, caption, at)


def workbook_job(path: Path, caption: str, at: Any, limits: Limits) -> Any:
    """`read_workbook` in a parse worker process, with its parser."""
    return read_workbook(workers.worker_parser(), path, caption, at, limits)


def _sheet_of(event: InboundMessage) -> Any:
    return next((a for a in event.attachments if a.name.lower().endswith((".xlsx", ".xlsm"))), None)


def _report_text(event: InboundMessage, bot_name: str) -> str:
    text = clean(event.text)
    mention = "@" + bot_name
    if text.lstrip().startswith(mention):
        text = text.lstrip()[len(mention):]
    return text


async def prepare_report(event: InboundMessage, data: dict[str, Any]) -> None:
    """A `prepare` hook: sets data["report_pre"] to what the report filter needs, or leaves it unset.
    Read once: the report lane may have read it already."""
    if "report_pre" in data:
        return
    limits: Limits = data["report_limits"]
    parser = data["parser"]
    known = data.get("person") is not None
    sheet = _sheet_of(event)
    app = data["app"]
    if sheet is not None:
        if not known:  # never open a workbook for someone who may not report
            data["report_pre"] = {"unknown_sheet": True}
            return
        try:
            result = await workers.off_loop(app, partial(read_workbook, parser), workbook_job, Path(sheet.path),
                                            event.text, event.received_at, limits, budget=limits.budget_s)
        except (TooLarge, TimeoutError):
            data["report_pre"] = {"too_long": True}
            return
        except Exception as exc:  # a broken workbook is the sender's problem to fix, not a crash
            data["report_pre"] = {"parsed": None, "sheet_error": str(exc)[:200] or type(exc).__name__}
            return
        data["report_pre"] = _checked(result, "xlsx", limits)
        return
    todo = text_to_read(event, data)
    if not isinstance(todo, str):
        if todo is not None:
            data["report_pre"] = todo
        return
    try:
        result = await workers.off_loop(app, parser.parse, workers.text_job, todo, event.received_at,
                                        budget=limits.budget_s)
    except TimeoutError:
        result = None
    pre = read_result(result, known, limits)
    if pre is not None:
        data["report_pre"] = pre


def text_to_read(event: InboundMessage, data: dict[str, Any]) -> str | dict[str, Any] | None:
    """A text message's part to parse; or, without parsing, what the report filter needs (a dict), or
    None when it is too short to be a report."""
    limits: Limits = data["report_limits"]
    known = data.get("person") is not None
    text = _report_text(event, data["cfg"].bot.name)
    if len(text) < 12:
        return None
    if len(text) > limits.max_text_chars:
        return {"too_long": True} if known else {}
    return text if known else text[:UNKNOWN_PROBE_CHARS]


def read_result(result: Any, known: bool, limits: Limits) -> dict[str, Any] | None:
    """What the report filter needs from a parse (None: over the time budget), or None if not a report."""
    if result is None:
        return {"too_long": True} if known else {}
    return _checked(result, "text", limits) if result.kind == "report" else None


def _checked(result: Any, source: str, limits: Limits) -> dict[str, Any]:
    if result.report is not None and len(result.report.records) > limits.max_rows:
        return {"too_long": True}
    return {"parsed": result, "source": source}
