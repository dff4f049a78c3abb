"""`绑定本群 区域 吉林市` / `绑定本群 省安委办` / `绑定本群 处长`, and `绑定 @张三 吉林市应急局 报送员`.

Both go through the routing store (bot/routing.py): audited, undoable from the console. A binding that
would replace another (this room is already bound, or the group is served by another room) names what it
replaces and waits for `确认`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import routing
from bot.config import Group, Person
from bot.directory import GROUP_ROLE_NAMES, ROLE_NAMES, Directory
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.dispatch.router import SKIP
from bot.events import InboundMessage
from bot.outbox import Outbox
from bot.scope import PRIVILEGED, province_wide, scope_name
from models.core import Binding, KeyValue
from models.db import transaction

router = Router(__name__, "绑定")
PENDING_TTL = timedelta(minutes=10)
ADMIN = ("admin",)
BIND = Command("绑定", usage="绑定 @张三 单位 角色：把微信号绑定到配置中的人", roles=ADMIN)


async def load_bindings(app: Any) -> None:
    """At startup: bindings stored by earlier versions, then the routing store's edits over the YAML."""
    async with transaction(app.sessions) as session:
        for b in (await session.exec(select(Binding))).all():
            if b.kind == "group" and b.config_id in app.directory.groups:
                app.directory.bind_group(b.transport, b.transport_id, b.config_id)
            elif b.kind == "person" and b.config_id in app.directory.people:
                app.directory.bind_person(b.transport, b.transport_id, b.config_id)
        await routing.load_overrides(session, app.directory)


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


def _is_admin(person: Person | None) -> bool:
    return BIND.allows(person)


def room_name(app: Any, transport: str, tid: str) -> str | None:
    """The room's topic when the gateway told us one."""
    for (name, _), t in app.transports.items():
        topic = getattr(t, "rooms", {}).get(tid) if name == transport else None
        if topic:
            return str(topic)
    return None


def group_label(group: Group) -> str:
    """省安委办工作群, 吉林市应急工作群（区域群，吉林市）: the kind only when the name does not say it already."""
    kind = GROUP_ROLE_NAMES.get(group.role, "其他")
    parts = [x for x in (kind if kind not in group.name else None, group.region) if x]
    return group.name + (f"（{'，'.join(parts)}）" if parts else "")


def replaced(app: Any, event: InboundMessage, group: Group) -> list[str]:
    """What binding this room to `group` would take away from someone else, in words."""
    d: Directory = app.directory
    out = []
    current = d.group(event.transport, event.chat_id)
    if current is not None and current.id != group.id:
        out.append(f"本群现在是“{current.name}”，确认后它将不再对应任何群聊")
    held = group.ids.get(event.transport)
    if held and held != event.chat_id:
        topic = room_name(app, event.transport, held)
        out.append(f"“{group.name}”现在由另一个群聊{f'“{topic}”' if topic else ''}担任，确认后改由本群担任，那个群不再收到它的消息")
    return out


def _pending_key(event: InboundMessage, person: Person) -> str:
    return f"bind:{event.transport}:{event.chat_id}:{person.id}"


async def _bind(session: AsyncSession, app: Any, event: InboundMessage, person: Person, group: Group) -> str | None:
    """Bind now through the routing store; the refusal text if this admin may not."""
    d: Directory = app.directory
    edits = routing.plan(d, "group", group.id, {"ids": {**group.ids, event.transport: event.chat_id}})
    problem = routing.refusal(d, person, edits)
    if problem:
        return problem
    await routing.commit(session, d, edits, person.id, event.received_at, f"在聊天中绑定本群为“{group.name}”")
    return None


@router.message(Command("绑定本群", usage="绑定本群 区域 吉林市 / 省安委办 / 处长：把本群绑定到配置", roles=ADMIN))
async def bind_room(event: InboundMessage, args: str, person: Person | None, directory: Directory, session: AsyncSession,
                    outbox: Outbox, app: Any) -> str:
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
    edits = routing.plan(directory, "group", group.id, {"ids": {**group.ids, event.transport: event.chat_id}})
    state = routing.state_of(directory, "group", group.id)
    # the group itself too (its binding may change nothing): a city admin is told who may, not "already"
    problem = routing.refusal(directory, person, edits or [routing.Edit("group", group.id, state, state)])
    if problem:
        outbox.reply(event, problem + "未做任何修改。")
        return "bind_denied"
    if group.ids.get(event.transport) == event.chat_id:
        outbox.reply(event, f"本群已经是{group_label(group)}，无需重复绑定。")
        return "bind_same"
    losses = replaced(app, event, group)
    if losses:
        key = _pending_key(event, person)
        row = await session.get(KeyValue, key) or KeyValue(key=key)
        row.value = {"group": group.id, "at": event.received_at.isoformat()}
        session.add(row)
        outbox.reply(event, f"要把本群绑定为{group_label(group)}：\n" + "；\n".join(losses)
                     + "。\n回复“确认”执行，“取消”放弃（10分钟内有效）。")
        return "bind_pending"
    await routing.commit(session, directory, edits, person.id, event.received_at, f"在聊天中绑定本群为“{group.name}”")
    outbox.reply(event, f"已绑定：本群 = {group_label(group)}。")
    return "bind_group"


async def _pending(session: AsyncSession, event: InboundMessage, person: Person | None) -> KeyValue | None:
    if person is None or not event.is_group:
        return None
    row = await session.get(KeyValue, _pending_key(event, person))
    if row is None or not (row.value.get("group") or row.value.get("person")):
        return None
    if datetime.fromisoformat(row.value["at"]) + PENDING_TTL < event.received_at:
        await session.delete(row)
        return None
    return row


@router.message(Command("确认"))
async def confirm_bind(event: InboundMessage, person: Person | None, directory: Directory, session: AsyncSession,
                       outbox: Outbox, app: Any) -> Any:
    row = await _pending(session, event, person)
    if row is None:
        return SKIP  # not a binding: the 叫应 confirmation may want it
    assert person is not None
    await session.delete(row)
    if row.value.get("person"):
        return await _confirm_member(event, person, directory, session, outbox, row.value)
    group = directory.groups.get(row.value["group"])
    if group is None:
        return SKIP
    problem = await _bind(session, app, event, person, group)
    if problem:
        outbox.reply(event, problem + "未做任何修改。")
        return "bind_denied"
    outbox.reply(event, f"已绑定：本群 = {group_label(group)}。原来的绑定已解除，可在控制台“审计”页撤销。")
    return "bind_group"


async def _confirm_member(event: InboundMessage, person: Person, directory: Directory, session: AsyncSession,
                          outbox: Outbox, pending: dict[str, Any]) -> str:
    target = directory.people.get(pending["person"])
    if target is None:
        outbox.reply(event, "要绑定的人员已不在名录中，未做任何修改。")
        return "bind_bad"
    edits = routing.plan(directory, "person", target.id, {"ids": {**target.ids, event.transport: pending["tid"]}})
    problem = routing.refusal(directory, person, edits)
    if problem:
        outbox.reply(event, problem + "未做任何修改。")
        return "bind_denied"
    await routing.commit(session, directory, edits, person.id, event.received_at,
                         f"在聊天中绑定{directory.display(target)}的微信号")
    outbox.reply(event, f"已绑定：{directory.display(target)}。原来的绑定已解除，可在控制台“审计”页撤销。")
    return "bind_person"


@router.message(Command("取消"))
async def cancel_bind(event: InboundMessage, person: Person | None, session: AsyncSession, outbox: Outbox) -> Any:
    row = await _pending(session, event, person)
    if row is None:
        return SKIP
    await session.delete(row)
    outbox.reply(event, "已放弃绑定，未做任何修改。")
    return "bind_cancelled"


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
    if PRIVILEGED & set(target.roles) and not province_wide(directory, person):
        outbox.reply(event, f"您是{scope_name(directory, person)}的管理员，不能绑定{directory.display(target)}"
                            f"（{'、'.join(ROLE_NAMES.get(r, r) for r in target.roles)}）。请省级管理员办理。")
        return "bind_denied"
    edits = routing.plan(directory, "person", target.id, {"ids": {**target.ids, event.transport: targets[0]}})
    problem = routing.refusal(directory, person, edits)
    if problem:
        outbox.reply(event, problem + "未做任何修改。")
        return "bind_denied"
    if not edits:
        outbox.reply(event, f"{directory.display(target)}已经绑定了这个微信号，无需重复绑定。")
        return "bind_same"
    losses = member_replaced(directory, event.transport, targets[0], target)
    if losses:
        key = _pending_key(event, person)
        row = await session.get(KeyValue, key) or KeyValue(key=key)
        row.value = {"person": target.id, "tid": targets[0], "at": event.received_at.isoformat()}
        session.add(row)
        outbox.reply(event, f"要把@{name}绑定为{directory.display(target)}：\n" + "；\n".join(losses)
                     + "。\n回复“确认”执行，“取消”放弃（10分钟内有效）。")
        return "bind_pending"
    await routing.commit(session, directory, edits, person.id, event.received_at,
                         f"在聊天中绑定{directory.display(target)}的微信号")
    roles = "、".join(ROLE_NAMES.get(r, r) for r in target.roles) or "无角色"
    outbox.reply(event, f"已绑定：{directory.display(target)}，{roles}。")
    return "bind_person"


def member_replaced(directory: Directory, transport: str, tid: str, target: Person) -> list[str]:
    """What binding this chat account to `target` takes away from someone, in words."""
    out = []
    holder = directory.person(transport, tid)
    if holder is not None and holder.id != target.id:
        out.append(f"这个微信号现在绑定的是{directory.display(holder)}，确认后改为{target.name}")
    if target.ids.get(transport) and target.ids[transport] != tid:
        out.append(f"{target.name}现在绑定的是另一个微信号，确认后改为这个")
    return out


def _matches(directory: Directory, p: Person, word: str) -> bool:
    unit = directory.unit_of(p)
    if unit and (word in unit.name or unit.name.replace("应急管理局", "应急局") == word):
        return True
    return any(word == ROLE_NAMES.get(r) for r in p.roles)
