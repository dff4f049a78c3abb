"""Redis shares de-duplication and rate limits between bot processes (a real redis-server)."""
from __future__ import annotations

from datetime import timedelta

from bot.app import create_app
from bot.clock import FakeClock
from bot.settings import Settings


async def test_two_processes_share_dedup_and_bucket(settings: Settings, clock: FakeClock, redis_url: str) -> None:
    s = settings.model_copy(update={"redis_url": redis_url})
    a, b = create_app(s, clock=clock), create_app(s, clock=clock)
    await a.start(background=False)
    await b.start(background=False)
    try:
        event = a.sim.make_event("anwei", "shenlx", "@应急助手 帮助", message_id="wx-redis-1")
        assert await a.feed(event) == "help"
        assert await b.feed(event) == "duplicate"
        limiter_a = a.outbox_sender.limiter
        limiter_b = b.outbox_sender.limiter
        now = clock.now()
        granted = 0
        for i in range(40):
            limiter = limiter_a if i % 2 else limiter_b
            if await limiter.take("sim:shared", now) == 0:
                granted += 1
        assert granted == a.cfg.outbox.burst
        later = now + timedelta(seconds=60)
        assert await limiter_a.take("sim:shared", later) == 0
    finally:
        await a.stop()
        await b.stop()
