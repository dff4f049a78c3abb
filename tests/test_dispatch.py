"""The pipeline on both databases: raw storage first, de-duplication, error isolation, the outbox."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import create_app
from bot.clock import FakeClock
from bot.dispatch import Router
from bot.dispatch.filters import Command
from bot.settings import Settings
from handlers.basic import fallback_router
from models.core import OutboxEntry, RawMessage
from tests.conftest import both_backends
from tests.harness import Harness


def boom_router(seen: list[int]) -> Router:
    r = Router("handlers.boom")

    @r.message(Command("爆炸"))
    async def boom(raw_id: int, session: object) -> str:
        seen.append(raw_id)  # the raw row exists before the handler runs
        raise ValueError("kaboom")

    @r.message(Command("回声"))
    async def echo(event: object, outbox: object, args: str) -> str:
        outbox.reply(event, args)  # type: ignore[attr-defined]
        return "echo"

    return r


async def _app(settings: Settings, clock: FakeClock, seen: list[int]) -> Harness:
    app = create_app(settings, clock=clock, routers=[boom_router(seen), fallback_router()])
    await app.start(background=False)
    return Harness(app, clock)


@both_backends
async def test_raw_first_then_errors_are_isolated(settings: Settings, clock: FakeClock) -> None:
    seen: list[int] = []
    h = await _app(settings, clock, seen)
    try:
        assert await h.say("anwei", "shenlx", "@应急助手 爆炸") == "error"
        h.expect_sent("抱歉，处理这条消息时出错了")
        assert await h.say("anwei", "shenlx", "@应急助手 回声 还活着") == "echo"
        h.expect_sent("还活着")
        async with h.app.sessions() as s:
            raw = (await s.exec(select(RawMessage).order_by(col(RawMessage.id)))).all()
        assert seen == [raw[0].id]
        assert raw[0].outcome == "error" and "kaboom" in (raw[0].error or "")
        assert raw[1].outcome == "echo" and raw[1].handler == "boom.echo"
    finally:
        await h.app.stop()


@both_backends
async def test_same_event_twice_is_handled_once(h: Harness) -> None:
    event = h.event("anwei", "shenlx", "@应急助手 帮助", message_id="wx-42")
    assert await h.app.feed(event) == "help"
    assert await h.app.feed(event) == "duplicate"
    await h.drain()
    assert len([m for m in h.sent if "我是应急助手" in m.text]) == 1


@both_backends
async def test_duplicate_is_caught_by_the_database_across_processes(settings: Settings, clock: FakeClock) -> None:
    first, second = create_app(settings, clock=clock), create_app(settings, clock=clock)
    await first.start(background=False)
    await second.start(background=False)
    try:
        event = first.sim.make_event("anwei", "shenlx", "@应急助手 帮助", message_id="wx-7")
        assert await first.feed(event) == "help"
        assert await second.feed(event) == "duplicate"
    finally:
        await first.stop()
        await second.stop()


@both_backends
async def test_outbox_retries_and_survives_restart(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings, clock=clock)
    await app.start(background=False)
    await Harness(app, clock).say("anwei", "shenlx", "@应急助手 帮助", drain=False)
    await app.stop()  # crash before delivery: the row is in the database

    again = create_app(settings, clock=clock)
    await again.start(background=False)
    h = Harness(again, clock)
    try:
        again.sim.fail_next = 2
        assert await h.drain() == 1
        h.expect_sent("我是应急助手")
        async with again.sessions() as s:
            row = (await s.exec(select(OutboxEntry))).one()
        assert row.status == "sent" and row.attempts == 0  # connection failures spend no attempt
    finally:
        await again.stop()


@both_backends
async def test_rate_limit_per_account(h: Harness) -> None:
    cfg = h.app.cfg.outbox
    start = h.clock.now()
    for i in range(cfg.burst + 10):
        await h.say("anwei", "shenlx", f"@应急助手 帮助 {i}", drain=False)
    await h.drain()
    assert len(h.sent) == cfg.burst + 10
    elapsed = (h.clock.now() - start).total_seconds()
    floor = 10 * 60 / cfg.rate_per_minute
    assert floor * 0.95 <= elapsed <= floor * 1.2, elapsed


async def test_gives_up_after_max_attempts_only_on_unexplained_errors(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(msg: object) -> str:
        raise RuntimeError("unexplained")

    monkeypatch.setattr(h.sim, "send", broken)
    await h.say("anwei", "shenlx", "@应急助手 帮助", drain=False)
    for _ in range(h.app.cfg.outbox.max_attempts):
        await h.app.outbox_sender.deliver_due()
        h.clock.advance(seconds=300)
    async with h.app.sessions() as s:
        row = (await s.exec(select(OutboxEntry).where(OutboxEntry.chat_id == "anwei"))).one()
        notices = (await s.exec(select(OutboxEntry).where(OutboxEntry.reason == "failed_notice"))).all()
    assert row.status == "failed" and row.attempts == h.app.cfg.outbox.max_attempts
    assert notices and "消息发送失败" in notices[0].text  # the admins are told


def test_split_text_keeps_lines_whole() -> None:
    from bot.text import split_text

    text = "\n".join(f"第{i}行" + "字" * 30 for i in range(100))
    parts = split_text(text, 200)
    assert "\n".join(parts) == text
    assert all(len(p) <= 200 for p in parts)
    assert split_text("字" * 450, 200) == ["字" * 200, "字" * 200, "字" * 50]


def test_settings_accept_plain_urls(tmp_path: Path) -> None:
    s = Settings.from_env({"DATABASE_URL": "postgresql://u@127.0.0.1/db", "BOT_PORT": "9000"})
    assert s.database_url.startswith("postgresql+asyncpg://") and s.port == 9000
