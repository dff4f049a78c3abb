"""Parse the sample corpus repeatedly (at least 20,000 messages), then ingest the same stream
(parse plus storage, through the full pipeline) and compare; on SQLite and then on PostgreSQL
(`--db sqlite|postgres` for one).

Limits named: parse_per_s >= 500 and ingest_per_s >= 50 on this 2-core machine."""
from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime
from pathlib import Path

from _common import fake_clock, on_each_backend, quiet, scratch_settings, tmpdir

from bot.app import create_app
from bot.settings import ROOT
from handlers.reports.parse import Parser

N = int(os.environ.get("BENCH_N", "20000"))
INGEST_N = int(os.environ.get("BENCH_INGEST_N", "2000"))
SAMPLES = ROOT.parent / "shared" / "samples" / "messages.jsonl"
PARSE_LIMIT, INGEST_LIMIT = 500, 50


def corpus() -> list[tuple[str, datetime]]:
    lines = [json.loads(x) for x in Path(SAMPLES).read_text(encoding="utf-8").splitlines() if x.strip()]
    return [(d["text"], datetime.fromisoformat(d["at"])) for d in lines]


async def measure(db_url: str | None) -> dict[str, float]:
    items = corpus()
    with tmpdir() as tmp:
        app = create_app(scratch_settings(tmp, db_url), clock=fake_clock())
        await app.start(background=False)
        parser: Parser = app.data["parser"]
        t0 = time.perf_counter()
        for i in range(N):
            text, at = items[i % len(items)]
            parser.parse(text, at)
        parse_s = time.perf_counter() - t0
        reporters = [p.id for p in app.cfg.people if "reporter" in p.roles]
        events = []
        for i in range(INGEST_N):
            text, _ = items[i % len(items)]
            events.append(app.sim.make_event("g-jl", reporters[i % len(reporters)], text, message_id=f"b{i}"))
        t0 = time.perf_counter()
        for e in events:
            await app.feed(e)
        ingest_s = time.perf_counter() - t0
        await app.stop()
    parse_per_s = N / parse_s
    ingest_per_s = INGEST_N / ingest_s
    ratio = ingest_per_s / parse_per_s
    print(f"parse: {N} messages in {parse_s:.2f}s = {parse_per_s:.0f}/s (limit >= {PARSE_LIMIT}: "
          f"{parse_per_s / PARSE_LIMIT:.1f}x)")
    print(f"ingest (parse + storage through the pipeline): {INGEST_N} in {ingest_s:.2f}s = {ingest_per_s:.0f}/s "
          f"(limit >= {INGEST_LIMIT}: {ingest_per_s / INGEST_LIMIT:.1f}x)")
    print(f"ratio ingest/parse {ratio:.3f} (goal >= 0.5)", flush=True)
    return {"parse_per_s": round(parse_per_s), "ingest_per_s": round(ingest_per_s), "ratio": round(ratio, 4)}


async def main() -> None:
    quiet()
    await on_each_backend(measure)


if __name__ == "__main__":
    asyncio.run(main())
