"""Chinese and Arabic numerals in counts: 两个, 十二处, 3家."""
from __future__ import annotations

import cn2an

CN_DIGITS = "零〇一二两三四五六七八九十百千"
NUM = rf"(?:\d+|[{CN_DIGITS}]+)"


def to_int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        value = cn2an.cn2an(text.replace("两", "二").replace("〇", "零"), "smart")
    except (ValueError, KeyError, TypeError):
        return None
    return int(value) if float(value).is_integer() else None
