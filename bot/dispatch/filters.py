"""Composable filters. Each takes the handler data and returns False, True or a dict to pass on."""
from __future__ import annotations

import re
from typing import Any

from bot.text import command_text


def to_bot(data: dict[str, Any]) -> bool:
    return command_text(data["event"], data["directory"].cfg.bot.name) is not None


def allows(roles: tuple[str, ...], person: Any) -> bool:
    """Everyone when `roles` is empty; else someone holding one of them."""
    return not roles or (person is not None and bool(set(roles) & set(person.roles)))


class Command:
    """A bot command: `@应急助手 帮助`, `/帮助`, `#帮助`, or the bare word in a private chat.

    `usage` and `roles` make it a row of the command table that `帮助` is generated from: who may use it
    is declared here once, and the handler checks the same `allows`."""

    def __init__(self, *names: str, prefix_only: bool = False, usage: str | None = None,
                 roles: tuple[str, ...] = ()) -> None:
        self.first = names[0]
        self.names = sorted(names, key=len, reverse=True)
        self.prefix_only = prefix_only
        self.usage = usage
        self.roles = roles

    def allows(self, person: Any) -> bool:
        return allows(self.roles, person)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any] | bool:
        text = command_text(data["event"], data["directory"].cfg.bot.name)
        if text is None:
            return False
        for name in self.names:
            if text == name or (text.startswith(name) and (not self.prefix_only or text[len(name):][:1] in " ：:\u3000\u2005")):
                return {"command": name, "args": text[len(name):].strip(" ：:\u2005\u3000")}
        return False


class Usage:
    """The help row of a handler that is not a command (a report, an answer to a warning); always passes."""

    def __init__(self, usage: str, roles: tuple[str, ...] = ()) -> None:
        self.usage = usage
        self.roles = roles

    def allows(self, person: Any) -> bool:
        return allows(self.roles, person)

    def __call__(self, data: dict[str, Any]) -> bool:
        return True


class Regex:
    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = re.compile(pattern, flags)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any] | bool:
        m = self.pattern.search(data["event"].text)
        return {"match": m} if m else False


class SenderRole:
    def __init__(self, *roles: str) -> None:
        self.roles = set(roles)

    def __call__(self, data: dict[str, Any]) -> bool:
        person = data.get("person")
        return person is not None and bool(self.roles & set(person.roles))


class GroupRole:
    def __init__(self, *roles: str) -> None:
        self.roles = set(roles)

    def __call__(self, data: dict[str, Any]) -> bool:
        group = data.get("group")
        return group is not None and group.role in self.roles


class InRegion:
    def __init__(self, region: str) -> None:
        self.region = region

    def __call__(self, data: dict[str, Any]) -> bool:
        group = data.get("group")
        return bool(group and group.region and data["directory"].regions.contains(self.region, group.region))
