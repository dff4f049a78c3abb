"""The built-in chat simulator: groups and people from the configuration, in one process.

The web page posts messages here; the bot's sends come back here and are pushed to the page.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

from bot.clock import Clock
from bot.directory import Directory
from bot.events import Attachment, InboundMessage, OutboundMessage

KEPT_LINES = 5_000  # of the demo's chats kept across restarts
SHOWN_CHARS = 4_000  # the page shows a long text's beginning: history and every SSE listener hold no megabytes


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}…（共{len(text)}字）"


@dataclass
class ChatLine:
    id: str
    chat_id: str
    sender_id: str
    sender_name: str
    text: str
    at: str
    from_bot: bool
    mentions: list[str] = field(default_factory=list)
    attachment: str | None = None


class SimulatorTransport:
    name = "sim"

    def __init__(self, directory: Directory, clock: Clock, account: str = "default", history: int = 500,
                 keep: Path | None = None) -> None:
        self.directory = directory
        self.clock = clock
        self.account = account
        self.sent: list[OutboundMessage] = []
        self.fail_next = 0  # tests make sends fail to exercise retries
        self._queue: asyncio.Queue[InboundMessage] = asyncio.Queue()
        self._history: dict[str, deque[ChatLine]] = defaultdict(lambda: deque(maxlen=history))
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._ids = itertools.count(1)
        self._run = uuid.uuid4().hex[:6]  # ids stay unique across restarts
        self._running = False
        self._acks: dict[str, asyncio.Future[None]] = {}
        self.log = structlog.get_logger("sim")
        self._keep = keep  # the chats' lines, so that a restarted demo still shows them
        if keep is not None and keep.exists():
            lines = keep.read_text(encoding="utf-8").splitlines()[-KEPT_LINES:]
            for raw in lines:
                try:
                    line = ChatLine(**json.loads(raw))
                except (ValueError, TypeError):
                    continue  # a line cut by a crash
                self._history[line.chat_id].append(line)
            keep.write_text("".join(x + "\n" for x in lines), encoding="utf-8")

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False

    def status(self) -> dict[str, Any]:
        return {"transport": self.name, "account": self.account, "state": "running" if self._running else "stopped"}

    async def events(self) -> AsyncIterator[InboundMessage]:
        while True:
            yield await self._queue.get()

    # -- the user side
    def make_event(
        self,
        chat_id: str,
        sender_id: str,
        text: str,
        *,
        message_id: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        quote_id: str | None = None,
    ) -> InboundMessage:
        is_group = not chat_id.startswith("dm:")
        person = self.directory.person(self.name, sender_id)
        name = person.name if person else sender_id
        bot_name = self.directory.cfg.bot.name
        mentions = tuple(self._mentioned(text))
        event = InboundMessage(
            transport=self.name,
            account=self.account,
            chat_id=chat_id,
            sender_id=sender_id,
            sender_name=name,
            message_id=message_id or f"sim-{self._run}-{self.clock.now().timestamp():.0f}-{next(self._ids)}",
            text=text,
            received_at=self.clock.now(),
            is_group=is_group,
            mentions=mentions,
            to_bot=(not is_group) or f"@{bot_name}" in text,
            attachments=attachments,
            quote_id=quote_id,
        )
        self._record(ChatLine(event.message_id, chat_id, sender_id, name, _shown(text), event.received_at.isoformat(),
                              False, list(mentions), attachments[0].name if attachments else None))
        self.log.info("sim.in", chat=chat_id, sender=name, text=text[:200])
        return event

    async def post(self, chat_id: str, sender_id: str, text: str, **kw: Any) -> InboundMessage:
        """What the web page calls: returns once the bot has stored the message (raises if it could not)."""
        event = self.make_event(chat_id, sender_id, text, **kw)
        ack = asyncio.get_running_loop().create_future()
        self._acks[event.message_id] = ack
        try:
            await self._queue.put(event)
            await ack
        finally:
            self._acks.pop(event.message_id, None)
        return event

    def accepted(self, event: InboundMessage, error: BaseException | None) -> None:
        """The bot's intake: the raw row is committed (error None), or storing failed."""
        ack = self._acks.get(event.message_id)
        if ack is None or ack.done():
            return
        if error is None:
            ack.set_result(None)
        else:
            ack.set_exception(error)

    # -- the bot side
    async def send(self, msg: OutboundMessage) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("simulated send failure")
        self.sent.append(msg)
        line_id = f"bot-{next(self._ids)}"
        self._record(ChatLine(line_id, msg.chat_id, "bot", self.directory.cfg.bot.name, msg.text,
                              self.clock.now().isoformat(), True, [m.id for m in msg.mentions], msg.attachment))
        self.log.info("sim.out", chat=msg.chat_id, text=msg.text[:200])
        return line_id

    # -- for the page
    def history(self, chat_id: str) -> list[dict[str, Any]]:
        return [asdict(line) for line in self._history.get(chat_id, ())]

    def listen(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _record(self, line: ChatLine) -> None:
        self._history[line.chat_id].append(line)
        if self._keep is not None:
            with self._keep.open("a", encoding="utf-8") as f:
                f.write(json.dumps(asdict(line), ensure_ascii=False) + "\n")
        if self._listeners:  # a page is watching (a burst with nobody watching builds no payloads)
            payload = asdict(line)
            for cb in list(self._listeners):
                cb(payload)

    def _mentioned(self, text: str) -> list[str]:
        found: list[str] = []
        if "@" not in text:  # no scan of a province's 20,000 names for a plain 收到
            return found
        if f"@{self.directory.cfg.bot.name}" in text:
            found.append(self.directory.cfg.bot.ids.get(self.name, "bot"))
        for p in self.directory.people.values():
            if f"@{p.name}" in text and p.ids.get(self.name):
                found.append(p.ids[self.name])
        return found
