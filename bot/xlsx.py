"""Cells every workbook writer can hold: one bad character in one report never stops a workbook."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# what XML 1.0 (and so Excel) cannot carry beyond openpyxl's control characters: U+FFFE/U+FFFF, lone surrogates
_NOT_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")
MAX_CELL = 32_767  # Excel's limit on one cell's text


def cell_text(value: str) -> str:
    value = _NOT_XML.sub("\ufffd", ILLEGAL_CHARACTERS_RE.sub("", value))
    return value if len(value) <= MAX_CELL else value[:MAX_CELL - 1] + "…"


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [cell_text(v) if isinstance(v, str) else v for v in values]
