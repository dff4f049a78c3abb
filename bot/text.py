"""Small text helpers shared by the transports and handlers."""
from __future__ import annotations

import functools
import re

from bot.events import InboundMessage

SPACES = " \t\u2005\u3000\u00a0"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Drop control characters and normalise line ends; keep emoji and full-width forms."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def command_text(event: InboundMessage, bot_name: str) -> str | None:
    """The command part if the message is addressed to the bot, else None."""
    return _command_text(event.text, bot_name, event.to_bot, event.is_group)


@functools.lru_cache(maxsize=16)
def _command_text(raw: str, bot_name: str, to_bot: bool, is_group: bool) -> str | None:
    """Remembered for the last few texts: every Command filter asks, and a long text is cleaned once."""
    text = clean(raw).strip(SPACES + "\n")
    mention = "@" + bot_name
    if text.startswith(mention):
        return text[len(mention):].strip(SPACES + "\n")
    if mention in text and to_bot:
        return text.replace(mention, " ").strip(SPACES + "\n")
    if text.startswith("#接龙"):
        return None
    if text[:1] in "/#＃" and len(text) > 1:
        return text[1:].strip(SPACES)
    if to_bot or not is_group:
        return text
    return None


def split_text(text: str, limit: int) -> list[str]:
    """Split at line boundaries so that each part has at most `limit` characters."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def percent(part: int | float, whole: int | float) -> str:
    """`67%` for 2/3: rounded half up (not truncated, not banker's), the one rule for every text and file."""
    from decimal import ROUND_HALF_UP, Decimal

    if not whole:
        return "0%"
    value = (Decimal(str(part)) * 100 / Decimal(str(whole))).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"{value}%"
