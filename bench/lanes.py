"""A 红色 warning queued behind 500 ordinary replies on one account at 20 messages a minute.

Delivery runs on a fake clock through the real outbox sender; the warning is issued through the real
activation path right after a reply took the account's last token (the worst moment). Figure: the
simulated seconds until the warning's first message is sent. Limit named: one token interval (3 s at
20/min), i.e. ratio <= 1."""
from __future__ import annotations

import asyncio
import time

from _common import fake_clock, figures, quiet, scratch_settings, tmpdir
from sqlalchemy import func, select

from bot.app import create_app
from bot.outbox import Outbox
from handlers.warnings.issue import Order, activate, new_warning
from models.core import OutboxEntry
from models.db import transaction

REPLIES = 500
T = OutboxEntry.__table__


async def first_sent(app: object, reason: str) -> object:
    async with app.sessions() as s:  # type: ignore[attr-defined]
        conn = await s.connection()
        return (await conn.execute(select(func.min(T.c.sent_at)).where(T.c.reason == reason))).scalar_one_or_none()


async def main() -> None:
    quiet()
    with tmpdir() as tmp:
        clock = fake_clock()
        app = create_app(scratch_settings(tmp), clock=clock)
        await app.start(background=False)
        rate = app.cfg.outbox.rate_per_minute
        interval = 60 / rate
        chats = [g.ids["sim"] for g in app.cfg.groups if g.ids.get("sim")][:10]
        async with transaction(app.sessions) as session:
            outbox = Outbox(session, app.data)
            for i in range(REPLIES):
                outbox.to_chat("sim", chats[i % len(chats)], f"回复{i}")
        sender = app.outbox_sender
        assert sender is not None
        await sender.deliver_due()  # the burst goes to replies
        clock.set(sender.next_due)
        await sender.deliver_due()  # one more reply takes the token that just came in: the bucket is empty
        wall0 = time.perf_counter()
        issued = clock.now()
        async with transaction(app.sessions) as session:
            order = Order("红色", "暴雨预警", ["吉林市"], "今夜有大暴雨，请立即部署防范", None)
            w = new_warning(app, order, "duty", issued, None, None)
            session.add(w)
            await session.flush()
            named = await activate(app, session, Outbox(session, app.data), w, issued)
        while (sent_at := await first_sent(app, "warning")) is None:
            await sender.deliver_due()
            clock.set(sender.next_due or clock.advance(seconds=0.05))
            if (clock.now() - issued).total_seconds() > 3600:
                raise SystemExit("the warning never went out")
        wall_s = time.perf_counter() - wall0
        async with app.sessions() as s:
            conn = await s.connection()
            waiting = (await conn.execute(select(func.count()).where(T.c.reason == "reply", T.c.status == "pending"))).scalar_one()
        await app.stop()
    red_wait_s = (sent_at - issued).total_seconds()
    ratio = red_wait_s / interval
    print(f"{REPLIES} replies queued on one account at {rate:g}/min; red warning to 吉林市 naming {named} people")
    print(f"first warning message sent {red_wait_s:.2f} simulated s after issue; {waiting} replies still waiting")
    print(f"one token interval {interval:.1f} s; ratio {ratio:.3f} (limit <= 1); wall {wall_s:.2f} s")
    print("RESULT " + figures(red_wait_s=round(red_wait_s, 3), ratio=round(ratio, 3)))


if __name__ == "__main__":
    asyncio.run(main())
