"""WeChat through a Wechaty Puppet Service gateway: the same interface as the simulator.

A supervising loop owns the connection: it connects, logs in, reads the event stream, and on any
drop reconnects with backoff (1 s, and at most 5 s during the first minute); it reports its state for
/healthz and tells the app when it is back. While it is not logged in it is not `online`: the outbox then
waits for it instead of spending attempts. It learns the rooms and contacts of its account (which account
reaches whom), its own id and nickname (mentions), and fetches inbound .xlsx files through the gateway."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from grpclib.exceptions import GRPCError
from wechaty_grpc.wechaty.puppet import MessageType

from bot.clock import Clock
from bot.events import Attachment, InboundMessage, OutboundMessage
from bot.transports.base import Rejected
from bot.transports.wechaty.client import GatewayClient, GatewayEvent, TlsOptions

StateHook = Callable[[str, dict[str, Any]], Awaitable[None]]
FIRST_MINUTE = (1, 1, 2, 2, 3, 5)  # reconnect delays while the drop is younger than a minute
LATER = 10
SHEETS = (".xlsx", ".xlsm")
# the gateway refuses these for good: the outbox fails the row instead of waiting
REJECTED = {"INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED", "FAILED_PRECONDITION", "OUT_OF_RANGE"}


def backoff(attempt: int, down_for_s: float) -> float:
    return FIRST_MINUTE[min(attempt, len(FIRST_MINUTE) - 1)] if down_for_s < 60 else LATER


async def file_box_json(path: str) -> str:
    """A base64 FileBox as the 1.x gateway reads it (`type`; `boxType` for older ones)."""
    data = await asyncio.to_thread(Path(path).read_bytes)
    name = Path(path).name
    return json.dumps({"type": 1, "boxType": 1, "name": name, "base64": base64.b64encode(data).decode()},
                      ensure_ascii=False)


class WechatyTransport:
    name = "wechaty"

    def __init__(self, endpoint: str, token: str | None, clock: Clock, *, account: str = "default",
                 tls: bool | TlsOptions = False, bot_name: str = "应急助手", on_state: StateHook | None = None,
                 uploads: Path | None = None, is_bound: Callable[[str], bool] | None = None) -> None:
        self.account = account
        self.endpoint = endpoint
        self.token = token
        self.tls = tls
        self.clock = clock
        self.bot_name = bot_name
        self.on_state = on_state
        self.uploads = uploads
        self.is_bound = is_bound or (lambda chat_id: False)
        self.log = structlog.get_logger("wechaty").bind(account=account, endpoint=endpoint)
        self.state = "stopped"
        self.self_id: str | None = None
        self.self_name: str | None = None
        self.reconnects = 0
        self.last_error: str | None = None
        self._ever_up = False
        self.last_event_at: datetime | None = None
        self.down_since: datetime | None = None
        self.rooms: dict[str, str] = {}  # room id → topic
        self.names: dict[str, str] = {}  # contact id → name
        self.contacts: set[str] | None = None  # the account's contacts once known: who it can message privately
        self._client: GatewayClient | None = None
        self._queue: asyncio.Queue[InboundMessage] = asyncio.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    # -- the interface
    @property
    def online(self) -> bool:
        return self.state == "logged_in"

    def down_for(self) -> float:
        return (self.clock.now() - self.down_since).total_seconds() if self.down_since else 0.0

    async def start(self) -> None:
        self.down_since = self.down_since or self.clock.now()
        self._task = asyncio.create_task(self._supervise(), name=f"wechaty:{self.account}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()
        self.state = "stopped"

    def status(self) -> dict[str, Any]:
        return {"transport": self.name, "account": self.account, "endpoint": self.endpoint, "state": self.state,
                "logged_in_as": self.self_id, "last_event": self.last_event_at.isoformat() if self.last_event_at else None,
                "reconnects": self.reconnects, "down_s": round(self.down_for()), "last_error": self.last_error,
                "logged_in_name": self.self_name, "contacts": len(self.contacts or ()),
                "rooms": [{"id": rid, "topic": topic, "bound": self.is_bound(rid)} for rid, topic in self.rooms.items()]}

    async def events(self) -> AsyncIterator[InboundMessage]:
        while True:
            yield await self._queue.get()

    async def send(self, msg: OutboundMessage) -> str:
        client = self._client
        if client is None or self.state != "logged_in":
            raise ConnectionError(f"wechaty gateway {self.account} is {self.state}")
        conversation = msg.chat_id.removeprefix("dm:")
        try:
            sent_id = await client.message_send_text(conversation, msg.text, mention_ids=[m.id for m in msg.mentions])
            if msg.attachment:
                await client.puppet_stub.message_send_file(conversation_id=conversation,
                                                           filebox=await file_box_json(msg.attachment))
        except GRPCError as exc:
            if exc.status.name in REJECTED:
                raise Rejected(f"{exc.status.name}: {exc.message}") from exc
            raise ConnectionError(f"gateway {exc.status.name}: {exc.message}") from exc
        return sent_id

    async def wait_logged_in(self) -> None:
        await self._ready.wait()

    # -- the connection
    async def _supervise(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        dropped_at = loop.time()
        while True:
            self.state = "connecting"
            try:
                self._client = GatewayClient(self.endpoint, self.token, self.tls)
                await self._client.connect()
                self.state = "connected"
                attempt = 0
                async for ev in self._client.event_stream():
                    await self._on_event(ev)
                raise ConnectionError("event stream ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.state in ("connected", "logged_in", "logged_out"):
                    dropped_at = loop.time()
                self._lost(exc)
            delay = backoff(attempt, loop.time() - dropped_at)
            attempt += 1
            await asyncio.sleep(delay)

    def _lost(self, exc: Exception) -> None:
        self.last_error = repr(exc)[:300]  # e.g. a TLS failure, shown on /healthz and not only in the log
        if self.down_since is None:
            self.down_since = self.clock.now()
            self.log.warning("wechaty.connection_lost", error=repr(exc)[:300])
        self.reconnects += 1 if self.state in ("connected", "logged_in") else 0
        self.state = "disconnected"
        self._ready.clear()
        self._close()

    def _close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None

    async def _on_event(self, ev: GatewayEvent) -> None:
        self.last_event_at = self.clock.now()
        if ev.name == "login":
            self.self_id = ev.data.get("contactId")
            self.state = "logged_in"
            self.last_error = None
            await self._discover()
            self._ready.set()
            first, self._ever_up = not self._ever_up, True
            if first:
                self.down_since = None
            if self.down_since is not None:
                down_s = (self.clock.now() - self.down_since).total_seconds()
                self.down_since = None
                self.log.info("wechaty.reconnected", down_s=round(down_s))
                if self.on_state is not None:
                    await self.on_state("reconnected", {"account": self.account, "down_s": down_s})
        elif ev.name == "logout":
            self.state = "logged_out"
            self.down_since = self.down_since or self.clock.now()
            self._ready.clear()
            self.log.warning("wechaty.logout", data=ev.data)
        elif ev.name == "error":
            self.log.warning("wechaty.gateway_error", data=str(ev.data)[:300])  # tolerated: the stream goes on
        elif ev.name in ("room-join", "room-leave", "room-topic"):
            await self._discover()
        elif ev.name == "message" and ev.data.get("messageId"):
            await self._message(str(ev.data["messageId"]))

    async def _discover(self) -> None:
        """Rooms and their topics (binding, the health page), contacts (which account reaches whom), and
        the account's own nickname (mentions)."""
        assert self._client is not None
        try:
            if self.self_id:
                self.self_name = (await self._client.contact_payload(self.self_id)).name or None
            for room_id in await self._client.room_list():
                payload = await self._client.room_payload(room_id)
                self.rooms[room_id] = payload.topic
            self.contacts = set(await self._client.contact_list())
        except Exception as exc:  # discovery is best effort; messages still flow
            self.log.warning("wechaty.discovery_failed", error=repr(exc)[:200])

    async def _message(self, message_id: str) -> None:
        if message_id in self._seen:
            return  # the gateway sometimes delivers the same message two or three times
        self._seen[message_id] = None
        while len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        assert self._client is not None
        p = await self._client.puppet_stub.message_payload(id=message_id)
        if p.from_id and p.from_id == self.self_id:
            return
        is_group = bool(p.room_id)
        name = self.names.get(p.from_id)
        if name is None and p.from_id:
            with contextlib.suppress(Exception):
                name = (await self._client.contact_payload(p.from_id)).name
                self.names[p.from_id] = name
        mentions = tuple(p.mention_ids)
        text = p.text or ""
        if self.self_name and self.self_name != self.bot_name:  # the account's real nickname, as commands expect
            text = text.replace(f"@{self.self_name}", f"@{self.bot_name}")
        to_bot = (not is_group) or (self.self_id in mentions) or f"@{self.bot_name}" in text
        chat_id = p.room_id if is_group else f"dm:{p.from_id}"
        event = InboundMessage(
            transport=self.name, account=self.account, chat_id=chat_id, sender_id=p.from_id, sender_name=name,
            message_id=p.id or message_id, text=text, received_at=self.clock.now(), is_group=is_group,
            mentions=mentions, to_bot=to_bot,
        )
        if p.filename or p.type == MessageType.MESSAGE_TYPE_ATTACHMENT:
            attached = await self._file(event, message_id, p.filename or "")
            if attached is None:
                return
            event = dataclasses.replace(event, attachments=(attached,))
        await self._queue.put(event)

    async def _file(self, event: InboundMessage, message_id: str, name: str) -> Attachment | None:
        """An .xlsx is fetched and attached (parsed like a simulator upload); a file that cannot be fetched,
        or another file in a bound group, gets a one-line answer instead of silence."""
        problem = None
        if name and not name.lower().endswith(SHEETS):
            if not event.is_group or self.is_bound(event.chat_id):
                problem = f"收到文件“{name}”。机器人只读取Excel日报表（.xlsx）；其他文件请联系值班人员处理。"
        else:
            assert self._client is not None
            try:
                fetched_name, data = await self._client.download(message_id)
                name = name or fetched_name
                if not data or not name.lower().endswith(SHEETS):
                    raise ValueError("不是.xlsx文件" if data else "文件为空")
                return await self._save(name, data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("wechaty.file_fetch_failed", message=message_id, error=repr(exc)[:200])
                problem = f"未能取到文件“{name or '附件'}”（{_why(exc)}），请重新发送，或把表格内容粘贴为文字。"
        if problem and self.on_state is not None:
            await self.on_state("file_problem", {"event": event, "text": problem})
        return None

    async def _save(self, name: str, data: bytes) -> Attachment:
        folder = self.uploads or Path("var") / "uploads"
        safe = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", name)[-100:]
        path = folder / f"{uuid.uuid4().hex[:8]}_{safe}"
        await asyncio.to_thread(_write, path, data)
        return Attachment(name, str(path), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _why(exc: Exception) -> str:
    if isinstance(exc, GRPCError):
        return "网关未提供文件下载"
    return str(exc) if isinstance(exc, ValueError) else "网关下载失败"
