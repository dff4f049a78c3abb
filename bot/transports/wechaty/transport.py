"""WeChat through a Wechaty Puppet Service gateway: the same interface as the simulator.

A supervising loop owns the connection: it connects, logs in, reads the event stream, and on any
drop reconnects with backoff; it reports its state for /healthz and tells the app when it is back."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from bot.clock import Clock
from bot.events import InboundMessage, OutboundMessage
from bot.transports.wechaty.client import GatewayClient, GatewayEvent

StateHook = Callable[[str, dict[str, Any]], Awaitable[None]]
BACKOFF = (1, 2, 4, 8, 15, 30)


async def file_box_json(path: str) -> str:
    """A base64 FileBox as the 1.x gateway reads it (`type`; `boxType` for older ones)."""
    data = await asyncio.to_thread(Path(path).read_bytes)
    name = Path(path).name
    return json.dumps({"type": 1, "boxType": 1, "name": name, "base64": base64.b64encode(data).decode()},
                      ensure_ascii=False)


class WechatyTransport:
    name = "wechaty"

    def __init__(self, endpoint: str, token: str | None, clock: Clock, *, account: str = "default", tls: bool = False,
                 bot_name: str = "应急助手", on_state: StateHook | None = None) -> None:
        self.account = account
        self.endpoint = endpoint
        self.token = token
        self.tls = tls
        self.clock = clock
        self.bot_name = bot_name
        self.on_state = on_state
        self.log = structlog.get_logger("wechaty").bind(account=account, endpoint=endpoint)
        self.state = "stopped"
        self.self_id: str | None = None
        self.reconnects = 0
        self.last_event_at: datetime | None = None
        self.down_since: datetime | None = None
        self.rooms: dict[str, str] = {}  # room id → topic
        self.names: dict[str, str] = {}  # contact id → name
        self._client: GatewayClient | None = None
        self._queue: asyncio.Queue[InboundMessage] = asyncio.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    # -- the interface
    async def start(self) -> None:
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
                "reconnects": self.reconnects, "rooms": len(self.rooms)}

    async def events(self) -> AsyncIterator[InboundMessage]:
        while True:
            yield await self._queue.get()

    async def send(self, msg: OutboundMessage) -> str:
        client = self._client
        if client is None or self.state != "logged_in":
            raise ConnectionError(f"wechaty gateway {self.account} is {self.state}")
        conversation = msg.chat_id.removeprefix("dm:")
        sent_id = await client.message_send_text(conversation, msg.text, mention_ids=[m.id for m in msg.mentions])
        if msg.attachment:
            await client.puppet_stub.message_send_file(conversation_id=conversation,
                                                       filebox=await file_box_json(msg.attachment))
        return sent_id

    async def wait_logged_in(self) -> None:
        await self._ready.wait()

    # -- the connection
    async def _supervise(self) -> None:
        attempt = 0
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
                self._lost(exc)
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            attempt += 1
            await asyncio.sleep(delay)

    def _lost(self, exc: Exception) -> None:
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
            await self._discover()
            self._ready.set()
            if self.down_since is not None:
                down_s = (self.clock.now() - self.down_since).total_seconds()
                self.down_since = None
                self.log.info("wechaty.reconnected", down_s=round(down_s))
                if self.on_state is not None:
                    await self.on_state("reconnected", {"account": self.account, "down_s": down_s})
        elif ev.name == "logout":
            self.state = "connected"
            self._ready.clear()
            self.log.warning("wechaty.logout", data=ev.data)
        elif ev.name == "error":
            self.log.warning("wechaty.gateway_error", data=str(ev.data)[:300])  # tolerated: the stream goes on
        elif ev.name in ("room-join", "room-leave", "room-topic"):
            await self._discover()
        elif ev.name == "message" and ev.data.get("messageId"):
            await self._message(str(ev.data["messageId"]))

    async def _discover(self) -> None:
        """Rooms and their topics, for binding and the health page."""
        assert self._client is not None
        try:
            for room_id in await self._client.room_list():
                payload = await self._client.room_payload(room_id)
                self.rooms[room_id] = payload.topic
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
        to_bot = (not is_group) or (self.self_id in mentions) or f"@{self.bot_name}" in p.text
        await self._queue.put(InboundMessage(
            transport=self.name, account=self.account, chat_id=p.room_id if is_group else f"dm:{p.from_id}",
            sender_id=p.from_id, sender_name=name, message_id=p.id or message_id, text=p.text or "",
            received_at=self.clock.now(), is_group=is_group, mentions=mentions, to_bot=to_bot,
        ))
