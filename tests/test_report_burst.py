"""A burst through the transport's intake (handlers/reports/burst.py): read and committed a chunk at a time,
every message handled once, and what follows a report from its sender waits for the report's commit."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import App, create_app
from bot.clock import FakeClock
from bot.settings import Settings
from models.core import RawMessage
from models.reports import Hazard, InspectionReport
from tests.conftest import both_backends
from tests.test_reports import LONGTAN


@pytest.fixture
async def running(settings: Settings, clock: FakeClock) -> AsyncIterator[App]:
    app = create_app(settings, clock=clock)
    await app.start()  # the intake, the workers and the burst lane run
    try:
        yield app
    finally:
        await app.stop()


async def burst(app: App, lines: list[tuple[str, str, str]]) -> dict[str, str]:
    """Post the lines at once through the simulator (as its web page does); message id → outcome, once each."""
    outcomes: dict[int, list[str]] = {}
    done = asyncio.Event()

    def handled(raw_id: int, outcome: str) -> None:
        outcomes.setdefault(raw_id, []).append(outcome)
        if len(outcomes) == len(lines):
            done.set()

    app.on_handled.append(handled)
    try:
        events = await asyncio.gather(*(app.sim.post(chat, person, text) for chat, person, text in lines))
        async with asyncio.timeout(30):
            await done.wait()
    finally:
        app.on_handled.remove(handled)
    assert all(len(v) == 1 for v in outcomes.values()), outcomes  # handled once
    async with app.sessions() as s:
        ids = dict((await s.exec(select(RawMessage.message_id, RawMessage.id))).all())
    return {e.message_id: outcomes[ids[e.message_id]][0] for e in events}


def on(day: int) -> str:
    return LONGTAN.replace("3月13日", f"3月{day}日")


@both_backends
async def test_a_burst_is_committed_by_the_lane_and_a_command_after_a_report_finds_it(running: App) -> None:
    lines = [("g-jl", "ltq-bs", on(10)),
             ("g-jl", "jl-bs", "今天下午的视频会几点开始"),
             ("g-jl", "ltq-bs", "@应急助手 销号 1 已更换报警器并检定合格"),  # hazard #1 of the report just before
             ("g-jl", "ltq-bs", on(11))]
    batcher = running.data["report_batcher"]
    batches = batcher.batches
    original = batcher._commit

    async def slow(items: list[Any]) -> None:  # a slow disk: the command must still wait for the report
        await asyncio.sleep(0.3)
        await original(items)

    batcher._commit = slow
    answered = asyncio.Event()
    stop = running.sim.listen(lambda line: answered.set() if sum(m.chat_id == "g-jl" for m in running.sim.sent) >= 3
                              else None)
    outcomes = list((await burst(running, lines)).values())
    assert outcomes[0] == "report" and outcomes[1] == "ignored" and outcomes[3] == "report"
    assert outcomes[2] not in ("report", "ignored", "error")
    assert batcher.batches - batches <= 3
    async with running.sessions() as s:
        hazard = await s.get(Hazard, 1)
        reports = (await s.exec(select(InspectionReport).order_by(col(InspectionReport.id)))).all()
    assert hazard is not None and hazard.status == "closed"  # the 销号 ran after the report's commit
    assert [r.report_date.day for r in reports] == [10, 11]
    async with asyncio.timeout(30):  # the running bot's own sender delivers the answers
        await answered.wait()
    stop()
    sent = [m.text for m in running.sim.sent]
    assert any("已登记 吉林市龙潭区 3月10日" in t for t in sent) and any("已销号 #1" in t for t in sent)


async def test_a_failing_burst_commit_hands_each_message_to_the_normal_chain(running: App) -> None:
    batcher = running.data["report_batcher"]
    original = batcher._commit
    failed: list[int] = []

    async def fails_once(items: list[Any]) -> None:
        if not failed:
            failed.append(len(items))
            raise RuntimeError("the disk is full")
        await original(items)

    batcher._commit = fails_once
    outcomes = await burst(running, [("g-jl", "ltq-bs", on(12)), ("g-jl", "jl-bs", "今天下午的视频会几点开始")])
    assert failed and list(outcomes.values()) == ["report", "ignored"]
    async with running.sessions() as s:
        rows = (await s.exec(select(RawMessage.outcome, RawMessage.handler))).all()
        reports = (await s.exec(select(InspectionReport))).all()
    assert sorted(rows) == [("ignored", None), ("report", "reports.report")]
    assert [r.report_date.day for r in reports] == [12]
