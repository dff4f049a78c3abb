"""Parse the sample corpus repeatedly (at least 20,000 messages), then ingest the same stream
(parse plus storage, through the full pipeline) and compare; on SQLite and then on PostgreSQL
(`--db sqlite|postgres` for one).

Ingest goes the way messages arrive in production: the whole stream reaches the chat transport at once,
its intake stores and acknowledges the raw rows, and hands each burst to the dispatcher (the report lane
takes reports and chatter a chunk at a time; the workers take the rest). The clock stops when every message
is fully handled (`App.on_handled` hears a message's outcome only once it is committed with the report,
records, hazards and the queued reply), not when it was merely accepted; then
the database must hold every message and none still `pending`. Each report is posted by a reporter who
may report for its region (in the 吉林市 group), as it would be; the rest by the reporters in turn.

A first burst of WARM messages is not measured: a running bot's parse worker and database are warm.

The ingest is measured on three bursts of INGEST_N messages, one after the other (each new messages, the
database growing as it would), and `ingest_per_s` is the median burst's: one burst lasts a third of a
second, where one slow moment of a shared machine moved a single burst's figure by a fifth.

`ingest_per_s` is the corpus as it is ingested: reports, chatter and answers, without the corpus's 4
commands to the bot (汇总, 统计, help, a question); they are not ingest but queries answered on the spot
(汇总 builds the day's workbook), and `with_commands_per_s` is the whole corpus, commands included, for
comparison (no goal).

Also parses one report of 1,000 and one of 4,000 records in each written shape (labelled fields, numbered
list, narrative, pasted table): the parse must stay linear, so 4x the records may take at most 8x the time
(a quadratic step shows as ~16x).

Limits named: parse_per_s >= 500, ingest_per_s >= 50 on this 2-core machine, scale_ratio <= 8."""
from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import figures, on_each_backend, quiet, scratch_settings, tmpdir
from sqlmodel import func, select

from bot.app import create_app
from bot.clock import FakeClock
from bot.events import InboundMessage
from bot.scope import covers, province_wide
from bot.settings import ROOT
from bot.text import command_text
from handlers.reports.ingest import resolve_unit
from handlers.reports.parse import Parser
from models.core import RawMessage

N = int(os.environ.get("BENCH_N", "20000"))
INGEST_N = int(os.environ.get("BENCH_INGEST_N", "2000"))
BURSTS = 3  # measured bursts of INGEST_N: a burst is a third of a second, and the machine's speed moves
WARM = 300  # messages of a first, unmeasured burst
SAMPLES = ROOT.parent / "shared" / "samples" / "messages.jsonl"
PARSE_LIMIT, INGEST_LIMIT, SCALE_LIMIT = 500, 50, 8.0
SHAPES = {
    "labelled": lambda i: (f"检查单位：梨树县应急管理局\n受检单位：梨树县第{i}化工有限公司\n检查地点：梨树镇\n"
                           "发现的问题隐患：1.储罐区无围堰；2.报警器未检定\n检查人员：张伟、李强\n整改情况：限期7日内整改"),
    "list": lambda i: f"{i % 999 + 1}.梨树县第{i}化工有限公司：储罐区无围堰；报警器未检定。已整改。检查人员：张伟、李强",
    "narrative": lambda i: f"张伟、李强对梨树县第{i}化工有限公司开展检查，发现储罐区无围堰、报警器未检定2处隐患，已责令限期整改。",
    "table": lambda i: f"梨树县应急管理局\t梨树县第{i}化工有限公司\t梨树镇\t储罐区无围堰；报警器未检定\t张伟、李强\t限期整改",
}
TABLE_HEAD = "检查单位\t受检单位\t检查地点\t发现的问题隐患\t检查人员\t整改情况\n"


def big_report(shape: str, n: int) -> str:
    head = "梨树县应急局3月15日检查情况\n" + (TABLE_HEAD if shape == "table" else "")
    return head + "\n".join(SHAPES[shape](i) for i in range(n))


def scaling(parser: Parser, at: datetime) -> dict[str, float]:
    """CPU seconds for 4,000 records over CPU seconds for 1,000, per shape (best of three)."""
    ratios = {}
    for shape in SHAPES:
        times = {}
        for n in (1000, 4000):
            text = big_report(shape, n)
            best = float("inf")
            for _ in range(3):
                # the parser's own work: CPU time (other users of the machine do not count) with the collector
                # paused (a collection walks every object of the whole app, which says nothing about the parser)
                gc.collect()
                gc.disable()
                t0 = time.process_time()
                result = parser.parse(text, at)
                best = min(best, time.process_time() - t0)
                gc.enable()
            assert result.report is not None and len(result.report.records) == n, (shape, n)
            times[n] = best
        ratios[shape] = times[4000] / times[1000]
        print(f"scale {shape}: 1,000 records {times[1000] * 1000:.0f} ms, 4,000 records {times[4000] * 1000:.0f} ms, "
              f"ratio {ratios[shape]:.1f} (limit <= {SCALE_LIMIT:.0f})")
    return ratios


def corpus() -> list[tuple[str, datetime]]:
    lines = [json.loads(x) for x in Path(SAMPLES).read_text(encoding="utf-8").splitlines() if x.strip()]
    return [(d["text"], datetime.fromisoformat(d["at"])) for d in lines]


def stream(app: Any, parser: Parser, items: list[tuple[str, datetime]], prefix: str) -> list[InboundMessage]:
    """INGEST_N messages of `items` in turn; a report from a reporter of its region, the rest from anyone."""
    reporters = [p for p in app.cfg.people if "reporter" in p.roles]
    own: dict[str, list[str]] = {}
    for text, at in items:
        result = parser.parse(text, at)
        if result.report is None:
            continue
        unit = resolve_unit(result.report, None, app.directory)
        region = unit.region if unit else app.regions.canonical(result.report.region)
        mine = [p for p in reporters if not region or covers(app.directory, p, region)]
        local = [p for p in mine if not province_wide(app.directory, p)]  # the region's own, if it has one
        own[text] = [p.ids["sim"] for p in local or mine]
    everyone = [p.ids["sim"] for p in reporters]
    events = []
    for i in range(INGEST_N):
        text, _ = items[i % len(items)]
        senders = own.get(text) or everyone
        events.append(app.sim.make_event("g-jl", senders[i % len(senders)], text, message_id=f"{prefix}{i}"))
    return events


async def ingest(app: Any, events: list[InboundMessage]) -> tuple[float, Counter[str]]:
    """Seconds from the first message reaching the transport until the last one is fully handled, and the
    outcomes (`App.on_handled`: a message's outcome is reported once it is committed)."""
    outcomes: Counter[str] = Counter()
    finished = asyncio.Event()

    def counted(raw_id: int, outcome: str) -> None:
        outcomes[outcome] += 1
        if outcomes.total() == len(events):
            finished.set()

    app.on_handled.append(counted)
    t0 = time.perf_counter()
    for e in events:
        app.sim._queue.put_nowait(e)
    await finished.wait()
    elapsed = time.perf_counter() - t0
    app.on_handled.remove(counted)
    return elapsed, outcomes


async def check_stored(app: Any, n: int) -> None:
    """Every message fed is stored, none still pending."""
    async with app.sessions() as session:
        rows = dict((await session.exec(select(RawMessage.outcome, func.count()).group_by(RawMessage.outcome))).all())
    assert sum(rows.values()) == n and "pending" not in rows, rows


def parse_all(parser: Parser, items: list[tuple[str, datetime]]) -> float:
    """Seconds to parse N messages of the corpus in turn."""
    t0 = time.perf_counter()
    for i in range(N):
        text, at = items[i % len(items)]
        parser.parse(text, at)
    return time.perf_counter() - t0


async def measure(db_url: str | None) -> dict[str, float]:
    items = corpus()
    with tmpdir() as tmp:
        # posted at the corpus's last posting time: no report is dated after the day it is posted (the bot
        # refuses such a report as a slip), as none was when the corpus was posted
        app = create_app(scratch_settings(tmp, db_url), clock=FakeClock(max(at for _, at in items)))
        await app.start()  # the transport's intake and the workers run
        parser: Parser = app.data["parser"]
        parse_s = parse_all(parser, items) / 2  # half now, half after the ingest: the machine's load moves
        scale_ratio = max(scaling(parser, items[0][1]).values())
        told = [it for it in items  # without the commands to the bot
                if command_text(app.sim.make_event("g-jl", "probe", it[0]), app.cfg.bot.name) is None]
        assert len(items) - len(told) == 4, len(told)
        warm = stream(app, parser, told, "w")[:WARM]
        await ingest(app, warm)  # as in a running bot: the parse worker and the database have seen a burst
        runs = [await ingest(app, stream(app, parser, told, f"b{k}-")) for k in range(BURSTS)]
        ingest_s, outcomes = sorted(runs, key=lambda r: r[0])[BURSTS // 2]  # the median burst
        mixed_s, mixed = await ingest(app, stream(app, parser, items, "c"))
        parse_s += parse_all(parser, items) / 2
        await check_stored(app, (BURSTS + 1) * INGEST_N + len(warm))
        await app.stop()
    parse_per_s = N / parse_s
    ingest_per_s = INGEST_N / ingest_s
    ratio = ingest_per_s / parse_per_s
    print(f"parse: {N} messages in {parse_s:.2f}s (the mean of a run before and one after the ingest) = "
          f"{parse_per_s:.0f}/s (limit >= {PARSE_LIMIT}: "
          f"{parse_per_s / PARSE_LIMIT:.1f}x)")
    print(f"ingest (parse + storage through the pipeline): {INGEST_N} in {ingest_s:.2f}s = {ingest_per_s:.0f}/s, "
          f"the median of {BURSTS} bursts (" + ", ".join(f"{INGEST_N / s:.0f}/s" for s, _ in runs) + ") "
          f"(limit >= {INGEST_LIMIT}: {ingest_per_s / INGEST_LIMIT:.1f}x)")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    mixed_per_s = INGEST_N / mixed_s
    print(f"with the corpus's commands too: {INGEST_N} in {mixed_s:.2f}s = {mixed_per_s:.0f}/s (no goal; "
          + ", ".join(f"{k} {v}" for k, v in mixed.most_common()) + ")")
    print(f"ratio ingest/parse {ratio:.3f} (goal >= 0.5)", flush=True)
    return {"parse_per_s": round(parse_per_s), "ingest_per_s": round(ingest_per_s), "ratio": round(ratio, 4),
            "scale_ratio": round(scale_ratio, 2), "with_commands_per_s": round(mixed_per_s)}


async def main() -> None:
    quiet()
    print("RESULT " + figures(**await on_each_backend(measure)))


if __name__ == "__main__":
    asyncio.run(main())
