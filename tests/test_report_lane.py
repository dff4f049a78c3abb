"""Reports by group commit (handlers/reports/lane.py): many reports in one transaction, in order, and
never at the expense of a batch-mate or of an answer to a warning."""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select

from bot.app import App
from bot.events import InboundMessage
from models.core import OutboxEntry, RawMessage
from models.db import transaction
from models.reports import Hazard, HazardEvent, InspectionRecord, InspectionReport
from tests.conftest import both_backends
from tests.harness import Harness
from tests.test_reports import LONGTAN
from tests.test_warnings import ORDER, issue


def on(day: int, text: str = LONGTAN) -> str:
    return text.replace("3月13日", f"3月{day}日")


async def one_batch(app: App, events: list[InboundMessage]) -> list[str]:
    """Feed the events side by side while the batcher is busy, so that they all wait for the same commit."""
    batcher = app.data["report_batcher"]
    before = batcher.batches
    async with batcher._lock:
        tasks = [asyncio.create_task(app.feed(e)) for e in events]
        for _ in range(100_000):  # until each is read (in the parse pool) and queued, or has gone elsewhere
            if len(batcher.queue) + sum(t.done() for t in tasks) == len(events):
                break
            await asyncio.sleep(0)
    outcomes = list(await asyncio.gather(*tasks))
    assert batcher.batches - before <= 1
    return outcomes


async def rows(app: App, model: Any) -> list[Any]:
    async with app.sessions() as s:
        return list((await s.exec(select(model).order_by(col(model.id)))).all())


@both_backends
async def test_a_burst_of_reports_is_one_commit_in_order(h: Harness) -> None:
    texts = [on(10), on(11), on(10, LONGTAN.replace("第3项已当场整改，第1、2项责令限期7日内整改", "均已当场整改")),
             "今天下午的视频会几点开始", "收到，按要求办理"]  # chatter, and an answer with no warning open
    events = [h.event("g-jl", "ltq-bs", t) for t in texts]
    batches = h.app.data["report_batcher"].batches
    assert await one_batch(h.app, events) == ["report", "report", "report_corrected", "ignored", "ignored"]
    assert h.app.data["report_batcher"].batches == batches + 1
    first, second, third = await rows(h.app, InspectionReport)
    assert not first.active and first.superseded_by == third.id and third.corrected and second.active
    raws = {r.message_id: r for r in await rows(h.app, RawMessage)}
    assert [raws[e.message_id].outcome for e in events] == ["report", "report", "report_corrected", "ignored", "ignored"]
    assert third.raw_message_id == raws[events[2].message_id].id
    assert {raws[e.message_id].handler for e in events[:3]} == {"reports.report"}
    hazards = await rows(h.app, Hazard)
    assert [hz.status for hz in hazards] == ["superseded"] * 3 + ["open", "open", "rectified"] + ["rectified"] * 3
    assert [hz.report_id for hz in hazards] == [first.id] * 3 + [second.id] * 3 + [third.id] * 3
    assert len(await rows(h.app, InspectionRecord)) == 3
    history = [(e.hazard_id, e.action, e.note if e.action == "superseded" else "") for e in
               sorted(await rows(h.app, HazardEvent), key=lambda e: (e.hazard_id, e.id))]
    gone = f"被第{third.id}号报告更正"  # the first report's hazards: found, then superseded by the third
    a, b, c = (hz.id for hz in hazards[:3])
    assert [x for x in history if x[0] in {a, b, c}] == [
        (a, "found", ""), (a, "superseded", gone), (b, "found", ""), (b, "superseded", gone),
        (c, "rectified", ""), (c, "superseded", gone)]
    replies = [o.text for o in await rows(h.app, OutboxEntry)]
    assert len(replies) == 3 and "已登记 吉林市龙潭区 3月10日" in replies[0] and "已更正 吉林市龙潭区 3月10日" in replies[2]
    await h.drain()
    h.expect_sent("已登记 吉林市龙潭区 3月11日：检查企业1家，隐患3处（已整改1处）。", chat="g-jl")
    await no_orphans(h.app)


async def no_orphans(app: App) -> None:
    """Every record, hazard and event names a stored parent: the tables have no foreign keys (migration
    a7b8c9d0e1f2), the one write path keeps them whole."""
    async with app.sessions() as s:
        for child, column, parent in (("inspection_records", "report_id", "inspection_reports"),
                                      ("hazards", "report_id", "inspection_reports"),
                                      ("hazards", "record_id", "inspection_records"),
                                      ("hazard_events", "hazard_id", "hazards")):
            orphans = (await s.exec(text(f"SELECT count(*) FROM {child} AS c WHERE NOT EXISTS "  # type: ignore[call-overload]
                                         f"(SELECT 1 FROM {parent} AS p WHERE p.id = c.{column})"))).one()[0]
            assert orphans == 0, (child, column)


@both_backends
async def test_a_failing_batch_hands_each_message_to_the_normal_chain(h: Harness) -> None:
    dup = h.event("g-jl", "ltq-bs", on(12), message_id="already-stored")
    async with transaction(h.app.sessions) as s:  # stored before, but not in the de-duplication window
        s.add(RawMessage(transport="sim", chat_id="g-jl", sender_id="ltq-bs", message_id="already-stored",
                         text=dup.text, received_at=dup.received_at, outcome="report"))
    events = [h.event("g-jl", "ltq-bs", on(10)), dup, h.event("g-jl", "jl-bs", "今天下午的视频会几点开始")]
    assert await one_batch(h.app, events) == ["report", "duplicate", "ignored"]
    [report] = await rows(h.app, InspectionReport)
    assert report.report_date.day == 10
    assert {r.outcome for r in await rows(h.app, RawMessage)} == {"report", "ignored"}
    await no_orphans(h.app)


@both_backends
async def test_transport_intake_then_lane_sets_the_outcome(h: Harness) -> None:
    from bot.dispatch.intake import store_many

    events = [h.event("g-jl", "ltq-bs", on(d)) for d in (10, 11)]
    stored = await store_many(h.app.data, events)
    outcomes = await asyncio.gather(*(h.app.dispatcher.feed(e, raw_id=rid) for e, rid in stored))
    assert outcomes == ["report", "report"]
    raws = await rows(h.app, RawMessage)
    assert [r.outcome for r in raws] == ["report", "report"]
    assert [r.raw_message_id for r in await rows(h.app, InspectionReport)] == [r.id for r in raws]


async def test_an_answer_to_a_warning_is_left_to_the_warnings(h: Harness) -> None:
    await issue(h, ORDER)
    index = h.app.data["ack_batcher"].index
    await index.refresh(force=True)
    assert index.has_open("ltq-yb")
    assert await h.say("g-jl", "ltq-yb", "收到，按要求办理") == "ack"
    index.by_person.pop("ltq-bb", None)  # the index is behind: the batch asks the database
    assert await h.say("g-jl", "ltq-bb", "收到，立即落实") == "ack"
    assert await h.say("g-jl", "jl-bs", "收到，按要求办理") == "ignored"  # named in nothing open


async def test_a_text_the_reader_gives_up_on_goes_to_the_normal_chain(h: Harness) -> None:
    import threading

    reader = h.app.data["report_batcher"].reader
    release = threading.Event()
    parser = h.app.data["parser"]
    slow = type("Slow", (), {"parse": lambda self, text, at: release.wait(5) and parser.parse(text, at)})()
    h.app.data["parser"] = slow
    h.app.data["report_limits"] = dataclasses.replace(h.app.data["report_limits"], budget_s=0.01)
    try:
        assert await reader.parse(LONGTAN, h.clock.now()) is None  # over the budget: given up
    finally:
        release.set()
        h.app.data["parser"] = parser
    original = reader._run

    async def gives_up(job: list[Any]) -> list[Any]:
        return [None] * len(job)

    reader._run = gives_up
    try:
        assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"  # read again, alone, by the normal chain
    finally:
        reader._run = original
    assert h.app.data["report_batcher"].batches == 0
    [raw] = await rows(h.app, RawMessage)
    assert raw.outcome == "report" and raw.handler == "reports.report"
