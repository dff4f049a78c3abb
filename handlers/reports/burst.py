"""Reports in bursts: a transport's intake hands each stored burst to this lane whole (see
`Dispatcher.feed_many`), so a re-import of thousands of reports is read and committed a few hundred at a
time, without a worker, a lock and a future per message.

Two stages run side by side, so the parse workers and the database are busy at once: `read` takes what
has arrived (at most CHUNK messages), parses its texts in a few jobs and decides what the batch takes;
`commit` stores each read chunk in one transaction (`ReportBatcher._commit`, the per-message lane's own),
in the order the chunks arrived. What the lane does not take goes down the normal chain, one message at a
time: at once when nothing of its sender in that chat is in the lane, else after the commit of its chunk,
so a command that follows a report (销号 #3) finds the report stored."""
from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Person
from bot.events import InboundMessage
from handlers.reports.bounded import read_result, text_to_read
from handlers.reports.lane import HANDLER, NOT_MINE, Item, ReportBatcher, item_of, takeable

CHUNK = 192  # messages read, then committed, together at most (small: the first commit comes soon; with two
# parse workers 192 read a little faster than 128: A/B 0.67 vs 0.62 on SQLite, 0.51 vs 0.50 on PostgreSQL)
READERS = 2  # chunks read side by side: the parse worker gets the next job while a chunk is being decided
READ_AHEAD = 2  # chunks read and waiting for their commit at most (a slow database holds the reading back)
_LEFT = object()  # a text the reader gave up on (over the budget, or it broke the parser)

PassOn = Callable[[InboundMessage, int], None]
Handled = Callable[[int, str], None]


@dataclass
class Entry:
    event: InboundMessage
    raw_id: int
    key: str  # (transport, chat, sender): the order kept
    pass_on: PassOn
    handled: Handled
    mine: bool  # may_take said the lane may take it (else it only keeps its place behind its sender's)
    states: tuple[str, ...]  # obligation states that would make it an answer to a warning (may_take)
    person: Person | None = None
    data: dict[str, Any] | None = None
    todo: Any = None  # text_to_read's answer, then read_result's
    item: Item | None = None


class ReportBurst:
    def __init__(self, app: Any, batcher: ReportBatcher) -> None:
        self.app = app
        self.batcher = batcher
        self.inbox: deque[Entry] = deque()
        self.arrived = asyncio.Event()
        # each chunk's place, taken in arrival order when a reader takes it, done once it is read: the commit
        # goes through them in that order, whichever reader finishes first
        # (one place fewer than readers and read chunks: the commit may hold one place it has looked at)
        self.read: asyncio.Queue[asyncio.Future[list[Entry]]] = asyncio.Queue(READ_AHEAD + READERS - 1)
        self.in_lane: Counter[str] = Counter()  # messages per key in the lane and not yet passed on or done

    def offer(self, pairs: list[tuple[InboundMessage, int]], pass_on: PassOn,
              handled: Handled) -> list[tuple[InboundMessage, int]]:
        """Queue what the lane may take, and what follows it from the same sender in the same chat; the rest
        is returned for the normal chain, in order."""
        data, directory = self.app.data, self.app.directory
        rest = []
        for event, raw_id in pairs:
            key = f"{event.transport}:{event.chat_id}:{event.sender_id}"
            person = directory.person(event.transport, event.sender_id)
            states = takeable(event, person, data)  # a burst of 收到 to an open warning goes on at once
            mine = states != NOT_MINE
            if not mine and not self.in_lane[key]:
                rest.append((event, raw_id))
                continue
            self.in_lane[key] += 1
            self.inbox.append(Entry(event, raw_id, key, pass_on, handled, mine, states or (), person))
        if self.inbox:
            self.arrived.set()
        return rest

    def tasks(self) -> list[tuple[Any, str]]:
        return [*((self._reading(), f"burst:read:{i}") for i in range(READERS)), (self._committing(), "burst:commit")]

    async def _reading(self) -> None:
        while True:
            await self.arrived.wait()
            if not self.inbox:  # the other reader took it
                self.arrived.clear()
                continue
            place: asyncio.Future[list[Entry]] = asyncio.get_running_loop().create_future()
            await self.read.put(place)  # a slow database holds the reading back here
            if not self.inbox:  # taken meanwhile: the place is given back empty
                place.set_result([])
                continue
            chunk = [self.inbox.popleft() for _ in range(min(CHUNK, len(self.inbox)))]
            if not self.inbox:
                self.arrived.clear()
            try:
                await self._read(chunk)
            except asyncio.CancelledError:
                raise
            except Exception:  # nothing of it is taken: the normal chain has each message
                self.app.log.exception("burst_read_failed", messages=len(chunk))
                for e in chunk:
                    e.item = None
            place.set_result(chunk)

    async def _read(self, chunk: list[Entry]) -> None:
        app = self.app
        data, directory = app.data, app.directory
        limits = data["report_limits"]
        texts: list[Entry] = []
        for e in chunk:
            if not e.mine:
                continue
            person = e.person
            e.data = {"directory": directory, "report_limits": limits, "cfg": app.cfg, "raw_id": e.raw_id,
                      "person": person}
            e.todo = text_to_read(e.event, e.data)
            if isinstance(e.todo, str):
                texts.append(e)
        results = await self.batcher.reader.parse_many([(e.todo, e.event.received_at) for e in texts])
        for e, result in zip(texts, results, strict=True):
            # over the budget, or broken: the normal chain reads it alone, within its own budget
            e.todo = read_result(result, e.person is not None, limits) if result is not None else _LEFT
        left: set[str] = set()  # a sender whose message is left: what follows it in the chat is left too
        for e in chunk:
            if e.key not in left and e.mine and e.todo is not _LEFT:
                assert e.data is not None
                e.item = item_of(e.event, e.data, e.person, e.states, e.todo)
            if e.item is None:
                left.add(e.key)

    async def _committing(self) -> None:
        ahead: asyncio.Future[list[Entry]] | None = None  # the next place, looked at but not read yet
        while True:
            chunk = list(await (ahead or await self.read.get()))
            ahead = None
            # the database was the slower: one commit for the chunks read meanwhile, next in order
            while not self.read.empty():
                ahead = self.read.get_nowait()
                if not ahead.done():
                    break
                chunk += ahead.result()
                ahead = None
            if not chunk:
                continue
            items = [e.item for e in chunk if e.item is not None]
            if items:
                await self.batcher.commit_now(items)
            log = self.app.log.bind()  # bound once: the app's logger is a proxy that binds on every call
            for e in chunk:
                outcome = e.item.done.result() if e.item is not None and e.item.done.done() else None
                self.in_lane[e.key] -= 1
                if not self.in_lane[e.key]:
                    del self.in_lane[e.key]
                if outcome is None:
                    e.pass_on(e.event, e.raw_id)
                    continue
                log.info("message", chat=e.event.chat_id, sender=e.event.sender_id, msg=e.event.message_id,
                         outcome=outcome, handler=HANDLER if e.item and e.item.parsed else None)
                e.handled(e.raw_id, outcome)
