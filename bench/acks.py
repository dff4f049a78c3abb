"""20,000 acknowledgements (`收到` in the group) arriving as fast as possible through the full pipeline,
against bare inserts of the same raw rows in the same run; on SQLite and then on PostgreSQL
(`--db sqlite|postgres` for one).

Goals (issue 13): per_s >= 2,000, p99_ms <= 250, ratio >= 0.5. Latency is time in the pipeline, including
waiting for the single SQLite writer behind the other acks in flight. As many acks are in flight as a running
bot handles side by side (`bot.app.WORKERS`)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from pathlib import Path

from _common import (
    bare_inserts,
    fake_clock,
    figures,
    on_each_backend,
    quiet,
    scratch_settings,
    tmpdir,
    warn_everyone,
)
from fanout import world

from bot.app import CHECKPOINT_EVERY_S, WORKERS, create_app

N = int(os.environ.get("BENCH_PEOPLE", "20000"))
CONCURRENCY = WORKERS  # acks handled side by side, as the running bot's workers take them from its intake


async def measure(db_url: str | None) -> dict[str, float]:
    with tmpdir() as tmp:
        clock = fake_clock()
        app = create_app(scratch_settings(tmp, db_url, config_path=world(Path(tmp))), clock=clock)
        await app.start(background=False)
        await warn_everyone(app)
        people = [p for p in app.cfg.people if p.responsible][:N]
        events = [app.sim.make_event(p.responsible[0].group or "", p.ids["sim"], "收到", message_id=f"ack{i}")
                  for i, p in enumerate(people)]
        app.sim._history.clear()
        latencies: list[float] = []
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(e: object) -> None:
            async with sem:
                t = time.perf_counter()
                outcome = await app.feed(e)
                latencies.append(time.perf_counter() - t)
                assert outcome == "ack", outcome

        t0 = time.perf_counter()
        # as in a running bot, the write-ahead log is copied into the database from a connection of its own
        # (`App._checkpoint_every`), not by a commit that crosses SQLite's backstop threshold
        keeper = asyncio.create_task(app._checkpoint_every(CHECKPOINT_EVERY_S))
        await asyncio.gather(*(one(e) for e in events))
        total_s = time.perf_counter() - t0
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        bare_s = await bare_inserts(app, events)
        await app.stop()
    per_s = len(events) / total_s
    bare_per_s = len(events) / bare_s
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    ratio = per_s / bare_per_s
    print(f"{len(events)} acknowledgements in {total_s:.1f}s = {per_s:.0f}/s ({CONCURRENCY} in flight)")
    print(f"goal >= 2,000/s: {per_s / 2000:.2f} of it")
    print(f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal p99 <= 250 ms: {p99 / 250:.2f} of it)")
    print(f"bare inserts {bare_per_s:.0f}/s; ratio {ratio:.2f} (goal >= 0.5)", flush=True)
    return {"per_s": round(per_s), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "ratio": round(ratio, 3)}


async def main() -> None:
    quiet()
    print("RESULT " + figures(**await on_each_backend(measure)))


if __name__ == "__main__":
    asyncio.run(main())
