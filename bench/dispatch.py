"""50,000 group messages through the full pipeline (raw storage, de-duplication, routing to a no-op
handler) on SQLite, against a bare loop of SQLite inserts of the same rows in the same run.

Limit named: ratio >= 0.25 (the pipeline keeps at least a quarter of bare-insert speed)."""
from __future__ import annotations

import asyncio
import os
import time

from _common import bare_inserts, fake_clock, figures, quiet, scratch_settings, tmpdir

from bot.app import create_app
from bot.dispatch import Router

N = int(os.environ.get("BENCH_N", "50000"))
LIMIT = 0.25


def noop_router() -> Router:
    r = Router("handlers.noop")

    @r.message()
    async def noop() -> str:
        return "noop"

    return r


async def main() -> None:
    quiet()
    with tmpdir() as tmp:
        clock = fake_clock()
        app = create_app(scratch_settings(tmp), clock=clock, routers=[noop_router()])
        await app.start(background=False)
        groups = [g.id for g in app.cfg.groups]
        people = [p.id for p in app.cfg.people]
        events = [app.sim.make_event(groups[i % len(groups)], people[i % len(people)], f"消息 {i}", message_id=f"m{i}")
                  for i in range(N)]
        app.sim._history.clear()
        sem = asyncio.Semaphore(64)

        async def one(e: object) -> None:
            async with sem:
                await app.feed(e)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(e) for e in events))
        pipeline_s = time.perf_counter() - t0

        bare_s = await bare_inserts(app, events)  # the same rows, one insert transaction each
        await app.stop()
    per_s = N / pipeline_s
    bare_per_s = N / bare_s
    ratio = per_s / bare_per_s
    print(f"pipeline: {N} messages in {pipeline_s:.2f}s = {per_s:.0f}/s")
    print(f"bare inserts: {N} rows in {bare_s:.2f}s = {bare_per_s:.0f}/s")
    print(f"ratio {ratio:.2f} (limit >= {LIMIT}: {'ok' if ratio >= LIMIT else 'BELOW'})")
    print("RESULT " + figures(per_s=round(per_s), ratio=round(ratio, 3)))


if __name__ == "__main__":
    asyncio.run(main())
