"""Two bot processes on one PostgreSQL: leases decide who sends for each account and who runs the scheduler;
when the holder dies in the middle of a fan-out, the other takes over and nothing is lost."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, func, select

from bot.app import create_app
from bot.clock import FakeClock
from bot.leases import SCHEDULER, Leases, account_lease, install_leases
from bot.settings import Settings
from handlers.warnings.escalate import escalate_due
from models.core import OutboxEntry
from models.warnings import EscalationStep
from tests.harness import Harness
from tests.test_warnings import ORDER

postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


class Died(BaseException):
    """What the transport sees of a kill -9 half-way: the message went out, the process never recorded it."""


@postgres_only
async def test_the_survivor_takes_over_a_fan_out(settings: Settings, clock: FakeClock) -> None:
    a, b = create_app(settings, clock=clock), create_app(settings, clock=clock)
    await a.start(background=False)
    await b.start(background=False)
    la, lb = install_leases(a), install_leases(b)
    try:
        await la.step()
        await lb.step()
        assert la.holds(SCHEDULER) and la.holds(account_lease("sim", "default"))
        assert not lb.held  # everything is held by the first process
        h = Harness(a, clock)
        await h.say("chuzhang", "liwd", ORDER, drain=False)
        await h.say("chuzhang", "liwd", "@应急助手 确认", drain=False)  # 11 people: a group message, 11 private
        async with a.sessions() as s:
            queued = (await s.exec(select(func.count()).select_from(OutboxEntry).where(
                OutboxEntry.reason == "warning"))).one()
        assert await b.outbox_sender.deliver_due() == 0  # type: ignore[union-attr]  # not its account

        sent_by_a = len(a.sim.sent)
        original = a.sim.send
        left = 4

        async def dying(msg: Any) -> str:
            nonlocal left
            left -= 1
            if left < 0:
                await original(msg)
                raise Died  # delivered, never recorded: the one duplicate the rule allows
            return await original(msg)

        a.sim.send = dying  # type: ignore[method-assign]
        with pytest.raises(Died):
            await _deliver_until_death(a)
        pid = (await la._conn.execute(text("SELECT pg_backend_pid()"))).scalar()  # type: ignore[union-attr]
        await la._conn.invalidate()  # type: ignore[union-attr]  # kill -9: the connection drops, the locks go
        la._conn = None
        async with b.engine.connect() as conn:  # wait until the server has seen it (no race with the next look)
            await conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})

        await lb.step()  # the survivor's next look (every second)
        assert lb.holds(SCHEDULER) and lb.holds(account_lease("sim", "default"))
        for _ in range(20):  # rows the dead process left `sending` come back when their lease runs out
            await b.outbox_sender.deliver_due()  # type: ignore[union-attr]
            clock.advance(seconds=30)
        texts = Counter(f"{m.chat_id}|{m.text}" for m in a.sim.sent[sent_by_a:] + b.sim.sent
                        if "【红色暴雨预警】叫应#1" in m.text)
        assert len(texts) == queued  # none lost
        assert sum(n - 1 for n in texts.values()) <= 1  # at most one duplicate for the account
        clock.advance(minutes=3)
        assert await escalate_due(b, clock.now()) > 0
        async with b.sessions() as s:
            steps = (await s.exec(select(EscalationStep).where(col(EscalationStep.obligation_id).is_not(None),
                                                               EscalationStep.seq == 0))).all()
        assert {x.status for x in steps} == {"done"} and len({x.run_token for x in steps}) >= 1
        assert await escalate_due(b, clock.now()) == 0  # each step once
    finally:
        for leases in (la, lb):
            if leases._conn is not None:
                await leases._conn.close()
        await a.stop()
        await b.stop()


async def _deliver_until_death(app: Any) -> None:
    for _ in range(50):
        await app.outbox_sender.deliver_due()
        app.clock.advance(seconds=5)


async def test_on_sqlite_every_lease_is_held(app: Any) -> None:
    leases = Leases(app.engine, ["scheduler", "account:sim:default"])
    assert not leases.shared and leases.holds("scheduler")
    await leases.step()
    assert leases.holds("account:sim:default")
