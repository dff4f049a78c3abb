"""`绑定本群 区域 吉林市` / `绑定本群 省安委办` / `绑定本群 处长`, and `绑定 @张三 吉林市应急局 报送员`."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.audit import audit
from bot.config import Group, Person
from bot.directory import GROUP_ROLE_NAMES, ROLE_NAMES, Directory
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.scope import PRIVILEGED, covers, province_wide, scope_name
from models.core import Binding
from models.db import transaction

router = Router(__name__, "绑定")


async def load_bindings(app: Any) -> None:
    async with transaction(app.sessions) as session:
        for b in (await session.exec(select(Binding))).all():
            if b.kind == "group" and b.config_id in app.directory.groups:
                app.directory.bind_group(b.transport, b.transport_id, b.config_id)
            elif b.kind == "person" and b.config_id in app.directory.people:
                app.directory.bind_person(b.transport, b.transport_id, b.config_id)


def find_group(directory: Directory, args: str) -> Group | None:
    text = args.replace("区域", "").replace("地区", "").strip()
    if any(k in text for k in ("安委办", "安委会")):
        return next(iter(directory.groups_with_role("anwei")), None)
    if "处长" in text:
        return next(iter(directory.groups_with_role("chuzhang")), None)
    for g in directory.cfg.groups:
        if text in (g.id, g.name):
            return g
    region = directory.regions.canonical(text.split()[0]) if text else None
    return next((g for g in directory.groups_with_role("region") if g.region == region), None) if region else None


async def _save(session: AsyncSession, binding: Binding) -> None:
    old = (await session.exec(select(Binding).where(Binding.transport == binding.transport, Binding.kind == binding.kind,
                                                    Binding.transport_id == binding.transport_id))).first()
    if old is not None:
        old.config_id, old.bound_by, old.bound_at = binding.config_id, binding.bound_by, binding.bound_at
        session.add(old)
    else:
        session.add(binding)
    try:
        await session.flush()
    except IntegrityError:
        raise ValueError("该绑定已存在") from None


ADMIN = ("admin",)
BIND = Command("绑定", usage="绑定 @张三 单位 角色：把微信号绑定到配置中的人", roles=ADMIN)


def _is_admin(person: Person | None) -> bool:
    return BIND.allows(person)


@router.message(Command("绑定本群", usage="绑定本群 区域 吉林市 / 省安委办 / 处长：把本群绑定到配置", roles=ADMIN))
async def bind_room(event: InboundMessage, args: str, person: Person | None, directory: Directory, session: AsyncSession,
                    outbox: Outbox) -> str:
    if not _is_admin(person):
        outbox.reply(event, "只有管理员可以绑定群。")
        return "bind_denied"
    if not event.is_group:
        outbox.reply(event, "请在要绑定的群里发送此指令。")
        return "bind_bad"
    group = find_group(directory, args)
    if group is None:
        names = "、".join(g.name for g in directory.cfg.groups[:8])
        outbox.reply(event, f"没找到对应的群配置。格式：绑定本群 区域 吉林市 / 绑定本群 省安委办 / 绑定本群 处长。已配置：{names}…")
        return "bind_bad"
    assert person is not None
    inside = covers(directory, person, group.region) if group.role == "region" else province_wide(directory, person)
    if not inside:
        outbox.reply(event, f"您是{scope_name(directory, person)}的管理员，不能把本群绑定为{group.name}。")
        return "bind_denied"
    await _save(session, Binding(transport=event.transport, kind="group", transport_id=event.chat_id, config_id=group.id,
                                 bound_by=person.id, bound_at=event.received_at))
    directory.bind_group(event.transport, event.chat_id, group.id)
    audit(session, person.id, "bind_group", event.received_at, transport=event.transport, chat=event.chat_id, group=group.id)
    outbox.reply(event, f"已绑定：本群 = {group.name}（{GROUP_ROLE_NAMES.get(group.role, group.role)}"
                        f"{'，' + group.region if group.region else ''}）。")
    return "bind_group"


@router.message(BIND)
async def bind_member(event: InboundMessage, args: str, person: Person | None, directory: Directory,
                      session: AsyncSession, outbox: Outbox, app: Any) -> str:
    if not _is_admin(person):
        outbox.reply(event, "只有管理员可以绑定人员。")
        return "bind_denied"
    bot_ids = {directory.cfg.bot.ids.get(event.transport), getattr(app.transports.get((event.transport, event.account)),
                                                                   "self_id", None)}
    targets = [m for m in event.mentions if m not in bot_ids]
    words = [w for w in args.replace("\u2005", " ").split() if not w.startswith("@")]
    name = next((w[1:] for w in args.replace("\u2005", " ").split() if w.startswith("@")), None)
    if not targets or not name:
        outbox.reply(event, "格式：绑定 @张三 吉林市应急局 报送员（@要绑定的人）")
        return "bind_bad"
    candidates = [p for p in directory.people.values() if p.name == name]
    for w in words:  # unit or role words narrow it down
        narrowed = [p for p in candidates if _matches(directory, p, w)]
        candidates = narrowed or candidates
    if len(candidates) != 1:
        outbox.reply(event, f"配置中{'没有' if not candidates else '有多个'}“{name}”，请写明单位，如：绑定 @{name} 吉林市应急局 报送员")
        return "bind_bad"
    target = candidates[0]
    assert person is not None
    if not covers(directory, person, directory.region_of(target)) or (
            PRIVILEGED & set(target.roles) and not province_wide(directory, person)):
        outbox.reply(event, f"您是{scope_name(directory, person)}的管理员，不能绑定{directory.display(target)}"
                            f"（{'、'.join(ROLE_NAMES.get(r, r) for r in target.roles) or '无角色'}）。请省级管理员办理。")
        return "bind_denied"
    await _save(session, Binding(transport=event.transport, kind="person", transport_id=targets[0], config_id=target.id,
                                 bound_by=person.id, bound_at=event.received_at))
    directory.bind_person(event.transport, targets[0], target.id)
    audit(session, person.id, "bind_person", event.received_at, transport=event.transport, tid=targets[0], person=target.id)
    roles = "、".join(ROLE_NAMES.get(r, r) for r in target.roles) or "无角色"
    outbox.reply(event, f"已绑定：{directory.display(target)}，{roles}。")
    return "bind_person"


def _matches(directory: Directory, p: Person, word: str) -> bool:
    unit = directory.unit_of(p)
    if unit and (word in unit.name or unit.name.replace("应急管理局", "应急局") == word):
        return True
    return any(word == ROLE_NAMES.get(r) for r in p.roles)
