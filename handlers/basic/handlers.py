from __future__ import annotations

from typing import Any

from bot.config import Person
from bot.directory import ROLE_NAMES, Directory
from bot.dispatch import Router
from bot.dispatch.filters import Command, to_bot
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.templates import Templates
from bot.text import command_text
from handlers.reports.parse.classify import is_answer

router = Router(__name__, "基本")


@router.message(Command("帮助", "help", "?", "？", "功能", usage="帮助 [指令/全部]：您可用的指令及用法"))
async def help_(event: InboundMessage, args: str, person: Person | None, outbox: Outbox, templates: Templates,
                app: Any) -> str:
    """Generated from the routers' own command table, filtered by the sender's roles: it cannot drift.
    `帮助` gives one line per capability; `帮助 叫应` the usage of those commands; `帮助 全部` every usage."""
    assert app.dispatcher is not None
    rows = table(app.dispatcher.routers, person)
    if args:
        lines = [f"· {usage}" for title, name, usage in rows
                 if args in ("全部", "所有") or args in title or args in name or args in usage]
        if not lines:
            outbox.reply(event, f"没有您可用的“{args}”指令。发“帮助”查看全部。")
            return "help"
        if args not in ("全部", "所有"):  # the rows asked for, without the introduction said with 帮助 itself
            outbox.reply(event, "\n".join(lines))
            return "help"
    else:
        by_title: dict[str, list[str]] = {}
        for title, name, _ in rows:
            by_title.setdefault(title, []).append(name)
        lines = [f"· {title}：{'、'.join(names)}" for title, names in by_title.items()]
        lines.append("发“帮助 指令”查看用法，如：帮助 统计；“帮助 全部”列出全部用法。")
    if person is None:
        who = "未登记人员（请联系管理员登记）"
    else:
        roles = [ROLE_NAMES.get(r, r) for r in person.roles]
        who = f"{person.name}（{'、'.join(roles)}）" if roles else person.name
    outbox.reply(event, templates.render("help", who=who, commands="\n".join(lines)))
    return "help"


def table(routers: list[Router], person: Person | None) -> list[tuple[str, str, str]]:
    """(capability, command name, usage) of every row the person may use, in routing order, each once."""
    out: list[tuple[str, str, str]] = []
    for router in routers:
        for spec in router.handlers:
            for f in spec.filters:
                usage = getattr(f, "usage", None)
                if usage and f.allows(person) and all(usage != u for _, _, u in out):
                    name = getattr(f, "first", None) or usage.split("：", 1)[0]
                    out.append((router.title or "其他", name, usage))
    return out


@router.message(Command("我是谁", "whoami", usage="我是谁：查看您的单位和角色"))
async def whoami(event: InboundMessage, person: Person | None, directory: Directory, outbox: Outbox,
                 templates: Templates) -> str:
    if person is None:  # unknown or not yet bound: show the id and exactly what an admin types
        name = event.sender_name or "您"
        same = [p for p in directory.people.values() if p.name == event.sender_name and event.transport not in p.ids]
        pid = same[0].id if len(same) == 1 else "人员编号"
        # in a group, no raw id and no server command line for everyone to read: those go in private
        outbox.reply(event, templates.render("whoami_unknown_group" if event.is_group else "whoami_unknown",
                                             sender=name, tid=event.sender_id, transport=event.transport, person_id=pid))
        return "unknown_sender"
    unit = directory.unit_of(person)
    roles = [ROLE_NAMES.get(r, r) + (f"（{person.domain}）" if r == "division_head" else "") for r in person.roles]
    for r in person.responsible:
        roles.append(f"{r.region}{r.title}")
    text = templates.render(
        "whoami",
        name=person.name,
        unit=unit.name if unit else "未登记单位",
        region=unit.region if unit else "—",
        roles="、".join(roles) or "无角色",
    )
    outbox.reply(event, text)
    return "whoami"


def fallback_router() -> Router:
    fallback = Router(__name__ + ".fallback")

    @fallback.message(to_bot)
    async def unknown_command(event: InboundMessage, outbox: Outbox, templates: Templates) -> str:
        text = command_text(event, templates.defaults["bot"]) or ""
        if not text.strip():  # only the mention: an answer, not "没听懂（空）"
            outbox.reply(event, templates.render("bare_mention" if event.is_group else "bare_private"))
            return "bare_mention"
        if is_answer(text, not event.is_group):  # 收到 with nothing open: not 没听懂
            outbox.reply(event, templates.render("nothing_to_answer"))
            return "nothing_to_answer"
        shown = text if len(text) <= 20 else text[:20] + "…"
        ask = f"@{templates.defaults['bot']} 帮助" if event.is_group else "帮助"  # a private chat needs no mention
        outbox.reply(event, templates.render("unknown_command", text=shown or "（空）", ask=ask))
        return "unknown_command"

    return fallback
