from __future__ import annotations

from bot.config import Person
from bot.directory import ROLE_NAMES, Directory
from bot.dispatch import Router
from bot.dispatch.filters import Command, to_bot
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.templates import Templates
from bot.text import command_text

router = Router(__name__)


@router.message(Command("帮助", "help", "?", "？", "功能"))
async def help_(event: InboundMessage, outbox: Outbox, templates: Templates) -> str:
    outbox.reply(event, templates.render("help"))
    return "help"


@router.message(Command("我是谁", "whoami"))
async def whoami(event: InboundMessage, person: Person | None, directory: Directory, outbox: Outbox,
                 templates: Templates) -> str:
    if person is None:
        outbox.reply(event, templates.render("whoami_unknown", sender=event.sender_name or event.sender_id))
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
        shown = text if len(text) <= 20 else text[:20] + "…"
        outbox.reply(event, templates.render("unknown_command", text=shown or "（空）"))
        return "unknown_command"

    return fallback
