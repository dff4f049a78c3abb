"""A nonebug-style harness: the real app factory and dispatcher, a fake clock, and the simulator's sends."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from bot.app import App
from bot.clock import FakeClock
from bot.events import Attachment, InboundMessage, OutboundMessage


class Harness:
    def __init__(self, app: App, clock: FakeClock) -> None:
        self.app = app
        self.clock = clock
        self._seen = 0

    @property
    def sim(self) -> Any:
        return self.app.sim

    @property
    def sent(self) -> list[OutboundMessage]:
        return self.sim.sent

    def new(self) -> list[OutboundMessage]:
        """Messages sent since the last call."""
        out = self.sent[self._seen:]
        self._seen = len(self.sent)
        return out

    def event(self, chat: str, person: str, text: str, **kw: Any) -> InboundMessage:
        return self.sim.make_event(chat, person, text, **kw)

    async def say(self, chat: str, person: str, text: str, *, attachments: Iterable[Attachment] = (),
                  message_id: str | None = None, quote_id: str | None = None, drain: bool = True) -> str:
        event = self.event(chat, person, text, attachments=tuple(attachments), message_id=message_id, quote_id=quote_id)
        outcome = await self.app.feed(event)
        if drain:
            await self.drain()
        return outcome

    async def dm(self, person: str, text: str, **kw: Any) -> str:
        return await self.say(f"dm:{person}", person, text, **kw)

    async def drain(self, max_rounds: int = 10_000) -> int:
        """Deliver everything queued, moving the fake clock over rate-limit waits and retry backoff."""
        sender = self.app.outbox_sender
        assert sender is not None
        total = 0
        for _ in range(max_rounds):
            total += await sender.deliver_due()
            if not await self.pending():
                return total
            wait = await self.next_wait()
            self.clock.advance(seconds=max(wait, 0.001))
        raise AssertionError("outbox did not drain")

    async def fail_a_reply(self, chat: str, sender: str) -> None:
        """The platform refuses, for good, the bot's answer to `帮助` in `chat`: one failed outbox row."""
        from bot.transports.base import Rejected

        real_send = self.sim.send

        async def reject(msg: Any) -> str:
            if msg.chat_id == chat:
                raise Rejected("对方拒收")
            return await real_send(msg)

        self.sim.send = reject  # type: ignore[method-assign]
        try:
            await self.say(chat, sender, "@应急助手 帮助", drain=False)
            assert self.app.outbox_sender is not None
            await self.app.outbox_sender.deliver_due()
        finally:
            self.sim.send = real_send  # type: ignore[method-assign]

    async def pending(self) -> int:
        from sqlmodel import col, func, select

        from models.core import OutboxEntry

        async with self.app.sessions() as s:
            return (await s.exec(select(func.count()).where(col(OutboxEntry.status).in_(["pending", "sending"])))).one()

    async def next_wait(self) -> float:
        from sqlmodel import col, func, select

        from models.core import OutboxEntry

        sender = self.app.outbox_sender
        async with self.app.sessions() as s:
            due = (await s.exec(select(func.min(OutboxEntry.next_attempt_at)).where(col(OutboxEntry.status) == "pending"))).one()
        now = self.clock.now()
        waits = [(t - now).total_seconds() for t in (due, sender.next_due) if t is not None and t > now]
        return min(waits) if waits else 0.001

    async def tick(self, **delta: float) -> None:
        """Move time and run every scheduled job once, as APScheduler would."""
        self.clock.advance(**delta)
        assert self.app.scheduler is not None
        await self.app.scheduler.run_all()
        await self.drain()

    async def run_until(self, until: Any, step: timedelta = timedelta(minutes=1)) -> None:
        while self.clock.now() < until:
            await self.tick(seconds=step.total_seconds())

    def expect_sent(self, contains: str, chat: str | None = None) -> OutboundMessage:
        for msg in reversed(self.sent):
            if contains in msg.text and (chat is None or msg.chat_id == chat):
                return msg
        shown = "\n---\n".join(f"[{m.chat_id}] {m.text}" for m in self.sent[-8:])
        raise AssertionError(f"nothing sent containing {contains!r} (chat={chat}); last sends:\n{shown}")

    def texts(self, chat: str | None = None) -> list[str]:
        return [m.text for m in self.sent if chat is None or m.chat_id == chat]
