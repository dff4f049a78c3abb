"""The outbox as operators meet it: it never gives up on a disconnected account, keeps each chat's order,
sends warnings first, drops only stale rows (with a record), fails only rejected ones (retryable), and
hands a crashed process's rows to exactly one other sender."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import create_app
from bot.backlog import backlog, failed_sends
from bot.clock import FakeClock
from bot.delivery import retry_failed
from bot.events import Mention
from bot.outbox import Outbox, lane_for
from bot.settings import Settings
from bot.transports.base import Rejected
from models.core import OutboxEntry
from models.db import transaction
from tests.conftest import both_backends
from tests.harness import Harness

RED = "@应急助手 叫应 红色 暴雨预警 范围：吉林市 内容：今夜有大暴雨 时限5分钟"


async def queue(h: Harness, chat: str, n: int, prefix: str = "消息") -> None:
    async with transaction(h.app.sessions) as session:
        outbox = Outbox(session, h.app.data)
        for i in range(n):
            outbox.to_chat("sim", chat, f"{prefix}{i:03d}")


async def rows(h: Harness, **where: object) -> list[OutboxEntry]:
    async with h.app.sessions() as s:
        q = select(OutboxEntry).order_by(col(OutboxEntry.id))
        for k, v in where.items():
            q = q.where(getattr(OutboxEntry, k) == v)
        return list((await s.exec(q)).all())


def texts(h: Harness, chat: str, prefix: str = "消息") -> list[str]:
    return [m.text for m in h.sent if m.chat_id == chat and m.text.startswith(prefix)]


@both_backends
async def test_a_disconnected_account_waits_without_attempts_or_tokens(h: Harness) -> None:
    h.sim.online = False
    await queue(h, "anwei", 30)
    for _ in range(10):  # a 100 s outage, on the fake clock
        assert await h.app.outbox_sender.deliver_due() == 0
        h.clock.advance(seconds=10)
    assert all(r.status == "pending" and r.attempts == 0 for r in await rows(h))
    bucket = h.app.outbox_sender.limiter._buckets.get("sim:default")
    assert bucket is None  # not a single token taken
    h.sim.online = True
    await h.drain()
    assert texts(h, "anwei") == [f"消息{i:03d}" for i in range(30)]  # none lost, none twice, in order


async def test_connection_errors_and_retries_keep_each_chats_order(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await queue(h, "anwei", 5)
    await queue(h, "g-jl", 5)
    real = h.sim.send
    failures = {"消息000": 1, "消息002": 2}

    async def flaky(msg: object) -> str:
        left = failures.get(msg.text, 0)  # type: ignore[attr-defined]
        if left:
            failures[msg.text] = left - 1  # type: ignore[attr-defined]
            raise ConnectionError("gateway hiccup") if msg.chat_id == "anwei" else RuntimeError("odd")  # type: ignore[attr-defined]
        return await real(msg)  # type: ignore[arg-type]

    monkeypatch.setattr(h.sim, "send", flaky)
    failures.update({"消息001": 1})
    await h.drain()
    expected = [f"消息{i:03d}" for i in range(5)]
    assert texts(h, "anwei") == expected and texts(h, "g-jl") == expected
    anwei = [r for r in await rows(h) if r.chat_id == "anwei"]
    assert all(r.attempts == 0 for r in anwei)  # connection errors spend no attempt


def test_lanes() -> None:
    assert lane_for("warning", "红色") < lane_for("escalation", "橙色") < lane_for("warning", "蓝色")
    assert lane_for("warning", "蓝色") < lane_for("warning", "提示函") < lane_for("consolidated") < lane_for("reply")


@both_backends
async def test_a_red_warning_behind_500_replies_goes_out_within_one_token_interval(h: Harness) -> None:
    for chat in ("anwei", "chuzhang", "g-jl", "g-yb", "g-cc"):
        await queue(h, chat, 100)
    sender = h.app.outbox_sender
    await sender.deliver_due()  # the burst is spent on replies
    h.clock.set(sender.next_due)
    await sender.deliver_due()
    await h.say("chuzhang", "liwd", RED, drain=False)
    await h.say("chuzhang", "liwd", "@应急助手 确认", drain=False)
    issued = h.clock.now()
    interval = 60 / h.app.cfg.outbox.rate_per_minute
    while not [r for r in await rows(h, reason="warning") if r.status == "sent"]:
        await sender.deliver_due()
        h.clock.set(sender.next_due or h.clock.advance(seconds=0.1))
        assert (h.clock.now() - issued).total_seconds() <= interval * 3, "the warning is stuck behind the replies"
    first = min(r.sent_at for r in await rows(h, reason="warning") if r.sent_at)
    assert (first - issued).total_seconds() <= interval
    warnings = await rows(h, reason="warning")
    assert {r.lane for r in warnings} == {0}
    pending_replies = [r for r in await rows(h, reason="reply") if r.status == "pending"]
    assert len(pending_replies) > 400  # the warning did not wait for them


async def test_closed_warning_stops_and_old_replies_are_dropped_with_a_record_and_a_notice(h: Harness) -> None:
    h.sim.online = False
    await h.say("chuzhang", "liwd", RED, drain=False)
    await h.say("chuzhang", "liwd", "@应急助手 确认", drain=False)
    await h.say("chuzhang", "liwd", "@应急助手 解除 1", drain=False)
    await queue(h, "anwei", 3)
    h.clock.advance(minutes=31)
    h.sim.online = True
    await h.drain()
    calls = await rows(h, reason="warning")
    assert calls and all(r.status == "dropped" and "已解除" in (r.last_error or "") for r in calls)
    assert any("已解除" in m.text and "总结" in m.text for m in h.sent)  # the 总结 still goes out
    replies = [r for r in await rows(h, reason="reply") if r.chat_id == "anwei"]
    assert [r.status for r in replies][-3:] == ["dropped"] * 3 and "已作废" in (replies[-1].last_error or "")
    notice = h.expect_sent("3条回复超过30分钟未能发出", chat="anwei")
    assert "重新发送" in notice.text
    assert not texts(h, "anwei")


@both_backends
async def test_a_rejected_message_fails_is_shown_and_can_be_retried(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    real = h.sim.send
    reject = {"消息000"}

    async def picky(msg: object) -> str:
        if msg.text in reject:  # type: ignore[attr-defined]
            raise Rejected("对方已不是好友")
        return await real(msg)  # type: ignore[arg-type]

    monkeypatch.setattr(h.sim, "send", picky)
    await queue(h, "g-jl", 2)
    await h.drain()
    assert texts(h, "g-jl") == ["消息001"]  # the chat moves on past a rejected message
    notices = [m for m in h.sent if "消息发送失败" in m.text]
    assert notices and "吉林市" in notices[0].text and "系统" in notices[0].text
    async with transaction(h.app.sessions) as session:
        failed = await failed_sends(session)
        assert [f.text for f in failed] == ["消息000"] and "对方已不是好友" in (failed[0].last_error or "")
        assert [b.failed for b in await backlog(session, h.app.cfg.outbox) if b.transport == "sim"] == [1]
        reject.clear()
        assert await retry_failed(session, failed[0].id, h.clock.now())
        assert not await retry_failed(session, failed[0].id, h.clock.now())
    await h.drain()
    assert texts(h, "g-jl") == ["消息001", "消息000"]


@contextlib.asynccontextmanager
async def two_processes(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Any, Any]]:
    """Two apps on one PostgreSQL database, as two bot processes would be."""
    a, b = create_app(settings, clock=clock), create_app(settings, clock=clock)
    await a.start(background=False)
    await b.start(background=False)
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_senders_on_postgres_send_each_row_once(settings: Settings, clock: FakeClock) -> None:
    async with two_processes(settings, clock) as (a, b):
        ha = Harness(a, clock)
        await queue(ha, "anwei", 60)
        await queue(ha, "g-jl", 60)
        async with transaction(a.sessions) as session:  # a process died while sending this one
            row = (await session.exec(select(OutboxEntry).where(OutboxEntry.text == "消息000",
                                                                OutboxEntry.chat_id == "anwei"))).one()
            row.status, row.lease, row.lease_until = "sending", 1, clock.now() + timedelta(seconds=30)
            session.add(row)
        for _ in range(200):
            await asyncio.gather(a.outbox_sender.deliver_due(), b.outbox_sender.deliver_due())
            if not await ha.pending():
                break
            clock.advance(seconds=1)
        sent = [m.text for m in a.sim.sent + b.sim.sent if m.chat_id == "anwei"]
        assert sorted(sent) == [f"消息{i:03d}" for i in range(60)]  # each once, the crashed one included
        assert a.sim.sent and b.sim.sent  # both senders did work
        for sim in (a.sim, b.sim):  # each sender kept the order of what it sent
            mine = [m.text for m in sim.sent if m.chat_id == "anwei"]
            assert mine == sorted(mine)
        reclaimed = (await rows(ha, text="消息000", chat_id="anwei"))[0]
        assert reclaimed.status == "sent" and reclaimed.lease >= 2  # claimed again (maybe released when out of tokens)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_chat_whose_head_another_sender_is_sending_is_looked_at_again_soon(h: Harness) -> None:
    """The cause of a flaky two-sender run: a page read while the other sender held the chat's head under its
    lease waited for that lease (two minutes) to run out, though the other was done within milliseconds."""
    await queue(h, "anwei", 3)
    async with transaction(h.app.sessions) as session:  # the other process claimed the head and is sending it
        row = (await session.exec(select(OutboxEntry).where(OutboxEntry.text == "消息000"))).one()
        row.status, row.lease, row.lease_until = "sending", 1, h.clock.now() + timedelta(seconds=120)
        session.add(row)
    sender = h.app.outbox_sender
    assert await sender.deliver_due() == 0  # the chat's head is on its way elsewhere: the rest waits
    async with transaction(h.app.sessions) as session:  # and is sent a moment later (no notice of that)
        row = (await session.exec(select(OutboxEntry).where(OutboxEntry.text == "消息000"))).one()
        row.status, row.lease_until = "sent", None
        session.add(row)
    assert sender.next_due is not None and (sender.next_due - h.clock.now()).total_seconds() <= 5
    h.clock.set(sender.next_due)
    await sender.deliver_due()
    assert texts(h, "anwei") == ["消息001", "消息002"]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_rows_another_process_writes_are_heard_of_at_once(settings: Settings, clock: FakeClock) -> None:
    """The sender does not ask for new rows on every pass: another process's insert notifies it."""
    async with two_processes(settings, clock) as (a, b):
        sender = b.outbox_sender
        assert sender is not None
        await sender.deliver_due()  # the first look lists everything; nothing is queued yet
        await sender.deliver_due()
        sender._wake.clear()
        await queue(Harness(a, clock), "anwei", 3)  # written by the other process
        await asyncio.wait_for(sender._wake.wait(), 10)  # the notification, not a poll
        await sender.deliver_due()
        assert [m.text for m in b.sim.sent if m.chat_id == "anwei"] == ["消息000", "消息001", "消息002"]


def count_reads(h: Harness, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the sender reads a page (a list, so the test sees it grow)."""
    sender = h.app.outbox_sender
    real, reads = sender._read, [0]

    async def counted(*args: Any) -> Any:
        reads[0] += 1
        return await real(*args)

    monkeypatch.setattr(sender, "_read", counted)
    return reads


async def next_token(h: Harness) -> None:
    """Move the fake clock to the sender's next due time (the next token of a rate-limited account)."""
    assert h.app.outbox_sender.next_due is not None and h.app.outbox_sender.next_due > h.clock.now()
    h.clock.set(h.app.outbox_sender.next_due)


@both_backends
async def test_a_warning_that_arrives_while_a_full_page_of_replies_waits_still_goes_first(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await queue(h, "g-jl", 300)  # more than a page, from a burst of reports
    sender = h.app.outbox_sender
    await sender.deliver_due()  # the burst of tokens goes on the first replies
    reads = count_reads(h, monkeypatch)
    await queue(h, "g-jl", 30, prefix="迟到")  # more replies behind the page while out of tokens
    assert await sender.deliver_due() == 0 and reads == [0]  # no token: nothing read
    await next_token(h)
    await queue(h, "g-jl", 30, prefix="再迟")  # and more, while a token is there
    assert await sender.deliver_due() == 1 and reads == [0]  # they sort after the page: it is kept
    async with transaction(h.app.sessions) as session:  # a red warning into the same group and another chat
        outbox = Outbox(session, h.app.data)
        outbox.to_chat("sim", "g-jl", "红色预警：今夜有大暴雨", reason="warning", level="红色")
        outbox.to_chat("sim", "anwei", "请立即叫应", reason="warning", level="红色", mentions=[Mention("wx-a", "安卫")])
    before = len(h.sent)
    await sender.deliver_due()  # still no token: it waits for the next one, unread
    assert reads == [0]
    await next_token(h)
    await sender.deliver_due()
    await next_token(h)
    await sender.deliver_due()
    assert [m.text for m in h.sent[before:]] == ["红色预警：今夜有大暴雨", "@安卫\u2005请立即叫应"]
    assert h.sent[-1].mentions == (Mention("wx-a", "安卫"),)  # mentions kept as JSON text in the page, decoded to send
    assert reads[0] >= 1  # the warning made the page be read again
    await h.drain()
    assert texts(h, "g-jl") == [f"消息{i:03d}" for i in range(300)]
    assert texts(h, "g-jl", "迟到") == [f"迟到{i:03d}" for i in range(30)]
    assert texts(h, "g-jl", "再迟") == [f"再迟{i:03d}" for i in range(30)]


@both_backends
async def test_rows_arriving_behind_a_full_page_are_all_sent_in_order(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await queue(h, "g-jl", 250)
    await queue(h, "anwei", 5)
    sender = h.app.outbox_sender
    reads = count_reads(h, monkeypatch)
    for wave in range(12):  # a pass at every token, with new rows for both chats before each of the first ones
        await queue(h, "g-jl", 10, prefix=f"波{wave:02d}-")
        await queue(h, "anwei", 2, prefix=f"波{wave:02d}-")
        await sender.deliver_due()
        await next_token(h)
    assert reads[0] <= 2, reads  # the first read, and the page of 200 did not run out yet
    async with transaction(h.app.sessions) as session:  # a reply due earlier than the page's last row
        row = Outbox(session, h.app.data).to_chat("sim", "chuzhang", "早到期")[0]
        row.next_attempt_at = h.clock.now() - timedelta(hours=1)
    before = len(h.sent)
    await sender.deliver_due()
    assert [m.text for m in h.sent[before:]] == ["早到期"]  # it sorts first: the page was read again
    await h.drain()
    assert texts(h, "g-jl") == [f"消息{i:03d}" for i in range(250)]
    assert texts(h, "anwei") == [f"消息{i:03d}" for i in range(5)]
    for wave in range(12):
        prefix = f"波{wave:02d}-"
        assert texts(h, "g-jl", prefix) == [f"{prefix}{i:03d}" for i in range(10)]
        assert texts(h, "anwei", prefix) == [f"{prefix}{i:03d}" for i in range(2)]
    for chat in ("g-jl", "anwei"):  # each chat in the order its rows were queued, nothing twice
        sent = [m.text for m in h.sent if m.chat_id == chat and not m.text.startswith("连接中断")]
        queued = [r.text for r in await rows(h, chat_id=chat)]
        assert sent == queued
