"""Accept means stored: any text is storable, pending rows are handled again, Redis may go away."""
from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import create_app
from bot.clock import FakeClock
from bot.dispatch.intake import store_one
from bot.settings import Settings
from bot.web.app import create_web
from models.core import OutboxEntry, RawMessage
from models.warnings import Obligation
from tests import services
from tests.conftest import both_backends
from tests.harness import Harness
from tests.test_warnings import JILIN, issue


async def raws(h: Harness) -> list[RawMessage]:
    async with h.app.sessions() as s:
        return list((await s.exec(select(RawMessage).order_by(col(RawMessage.id)))).all())


@both_backends
async def test_nul_and_lone_surrogates_are_stored_escaped_with_the_original_bytes(h: Harness) -> None:
    wid = await issue(h)
    assert await h.say("g-jl", "jl-yb", "收到\x00") == "ack"
    assert await h.say("g-jl", "jl-bb", "收到，马上落实\ud800") == "ack"
    assert await h.say("anwei", "shenlx", "@应急助手 帮助\x00\udfff") == "help"
    rows = (await raws(h))[-3:]
    assert rows[0].text == "收到" and rows[0].meta["escaped"] == ["U+0000"]
    assert rows[1].text == "收到，马上落实\ufffd" and rows[1].meta["escaped"] == ["U+D800"]
    assert rows[0].original == "收到\x00".encode()
    assert rows[1].original == "收到，马上落实\ud800".encode("utf-8", "surrogatepass")
    assert rows[2].meta["escaped"] == ["U+0000", "U+DFFF"] and rows[2].outcome == "help"
    async with h.app.sessions() as s:
        acked = (await s.exec(select(Obligation.person_id).where(Obligation.warning_id == wid,
                                                                 Obligation.state == "acked"))).all()
    assert set(acked) == {"jl-yb", "jl-bb"}
    assert h.texts("anwei")  # answered


@both_backends
async def test_pending_rows_are_handled_again_once_after_a_crash(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings, clock=clock)
    await app.start(background=False)
    h = Harness(app, clock)
    wid = await issue(h)
    # accepted (raw row committed) but the process died before handling them
    for pid in JILIN[:6]:
        await store_one(app.data, app.sim.make_event("g-jl", pid, "收到"))
    await app.stop()

    again = create_app(settings, clock=clock)
    await again.start(background=False)  # start handles what is still pending
    try:
        h2 = Harness(again, clock)
        assert await again.recover() == 0  # nothing left: idempotent
        async with again.sessions() as s:
            states = {o.person_id: o.state for o in (await s.exec(
                select(Obligation).where(Obligation.warning_id == wid))).all()}
            pending = (await s.exec(select(RawMessage).where(RawMessage.outcome == "pending"))).all()
        assert not pending, [(r.id, r.outcome) for r in pending]
        assert {p for p, st in states.items() if st == "acked"} == set(JILIN[:6])
        await h2.tick(minutes=3)
        urged = {m.chat_id for m in again.sim.sent if "【催叫】" in m.text}
        assert urged and not urged & {f"dm:{p}" for p in JILIN[:6]}  # nobody who answered is chased
    finally:
        await again.stop()


async def test_the_simulator_acknowledges_only_after_the_row_is_committed(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"scheduler": False}))
    await app.start()
    client = TestClient(TestServer(create_web(app, sim=True)))
    await client.start_server()
    try:
        r = await client.post("/sim/api/send", json={"chat_id": "anwei", "sender_id": "shenlx", "text": "@应急助手 帮助"})
        assert r.status == 200
        mid = (await r.json())["message_id"]
        async with app.sessions() as s:  # no waiting: acknowledged means stored
            assert (await s.exec(select(RawMessage).where(RawMessage.message_id == mid))).one()
    finally:
        await client.close()
        await app.stop()


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def warning(self, name: str, **kw: Any) -> None:
        self.lines.append((name, kw))


async def test_redis_stopped_mid_run_loses_nothing(settings: Settings, clock: FakeClock) -> None:
    with services.redis_server() as url:
        app = create_app(settings.model_copy(update={"redis_url": url}), clock=clock)
        await app.start(background=False)
        log = app.redis_state.log = _Log()
        h = Harness(app, clock)
        assert await h.say("anwei", "shenlx", "@应急助手 帮助", message_id="before") == "help"
    try:  # the server is gone now
        outcomes = [await h.say("anwei", "shenlx", "@应急助手 帮助", message_id=f"m{i}", drain=False)
                    for i in range(30)]
        assert outcomes == ["help"] * 30
        assert await h.say("anwei", "shenlx", "@应急助手 帮助", message_id="m3") == "duplicate"  # database key
        await h.drain()
        async with app.sessions() as s:
            stored = (await s.exec(select(RawMessage))).all()
            unsent = (await s.exec(select(OutboxEntry).where(OutboxEntry.status != "sent"))).all()
        assert len(stored) == 31 and not unsent
        assert [name for name, _ in log.lines] == ["redis_down_fallback"]  # one warning, no traceback loop
        client = TestClient(TestServer(create_web(app)))
        await client.start_server()
        try:
            health = await (await client.get("/healthz")).json()
        finally:
            await client.close()
        assert health["redis"]["state"] == "degraded"
    finally:
        await app.stop()


async def test_storing_inbound_messages_jumps_the_queue_of_handlers() -> None:
    import asyncio

    from models.db import WriterLock

    lock, order = WriterLock(), []
    await lock.acquire()

    async def writer(name: str, urgent: bool) -> None:
        await lock.acquire(urgent)
        order.append(name)
        lock.release()

    tasks = [asyncio.create_task(writer(n, n == "intake")) for n in ("handler1", "handler2", "intake")]
    cancelled = asyncio.create_task(writer("gone", False))
    await asyncio.sleep(0)  # let them queue
    cancelled.cancel()
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["intake", "handler1", "handler2"] and not lock._locked
