"""Reports read in worker processes (handlers/reports/workers.py): the same stored result as the parse
threads, a parse over its budget stopped (its worker killed and replaced) with the message still answered,
and a worker that dies replaced with nothing lost. The only tests that start processes: the rest of the
suite reads in threads (`parse_processes` 0)."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from bot.app import App, create_app
from bot.clock import FakeClock
from bot.events import Attachment
from bot.settings import ROOT, Settings
from handlers.reports.workers import NICE, ParseWorkers
from models.core import RawMessage
from models.reports import Hazard, InspectionRecord, InspectionReport
from tests.conftest import START
from tests.harness import Harness
from tests.test_report_lane import one_batch, rows
from tests.test_reports import LONGTAN

SAMPLES = ROOT.parent / "shared" / "samples" / "messages.jsonl"
SENDERS = ["zhouh", "jl-bs", "ltq-bs", "cc-bs", "hd-bs"]  # the province's reporter and some of one region


class Unusable:
    """Stands for the app's own parser: a read that happens in this process fails the test."""

    def parse(self, *a: Any) -> Any:
        raise AssertionError("read in the bot's process, not in a worker")

    parse_xlsx = parse


@asynccontextmanager
async def bot(settings: Settings, clock: FakeClock, tmp: Path, processes: int) -> AsyncIterator[Harness]:
    app = create_app(settings.model_copy(update={"parse_processes": processes, "var_dir": tmp / "var",
                                                 "database_url": f"sqlite+aiosqlite:///{tmp / 'bot.db'}"}),
                     clock=clock)
    await app.start(background=False)
    try:
        yield Harness(app, clock)
    finally:
        await app.stop()


def workers(app: App) -> ParseWorkers:
    assert app.parse_workers is not None
    return app.parse_workers


async def replaced(app: App) -> None:
    """Until the worker being replaced is up again (the replacement is a task of the app)."""
    await asyncio.gather(*(t for t in app.tasks if t.get_name().startswith("parse-worker:")))
    assert workers(app).up == workers(app).n


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def workbook(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["桦甸市应急管理局3月13日监督检查情况"])
    ws.append(["检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况"])
    ws.append(["桦甸市应急管理局", "桦甸市金鼎矿业有限公司", "八道河子镇", "井下避灾路线标识不清", "张宏伟、李俊峰", "限期5日内整改"])
    wb.save(path)
    return path


async def stored(app: App) -> dict[str, Any]:
    """What each message left, by its message id: outcome, report, records, hazards (no row ids)."""
    raws = {r.id: r for r in await rows(app, RawMessage)}
    reports = await rows(app, InspectionReport)
    records = await rows(app, InspectionRecord)
    hazards = await rows(app, Hazard)
    out: dict[str, Any] = {r.message_id: [r.outcome, r.handler] for r in raws.values()}
    for rep in reports:
        recs = [(c.seq, c.enterprise, c.inspecting_unit, c.location, c.domain, c.inspectors, c.rectification,
                 c.hazard_count, sorted((h.text, h.status, str(h.deadline)) for h in hazards if h.record_id == c.id))
                for c in records if c.report_id == rep.id]
        out[raws[rep.raw_message_id].message_id].append(
            (rep.unit_id, rep.region, str(rep.report_date), rep.round, rep.teams, rep.inspectors, rep.enterprises,
             rep.hazards, rep.rectified, rep.late, rep.corrected, rep.active, rep.problems, rep.status,
             rep.review_reason, rep.source, recs))
    return out


async def test_reports_read_in_a_worker_are_stored_as_read_in_threads(settings: Settings, clock: FakeClock,
                                                                      tmp_path: Path) -> None:
    texts = [json.loads(x)["text"] for x in SAMPLES.read_text(encoding="utf-8").splitlines() if x.strip()]
    sheet = workbook(tmp_path / "桦甸日报.xlsx")
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"not a workbook")
    results, sent = [], []
    for processes in (0, 1):
        async with bot(settings, FakeClock(START), tmp_path / str(processes), processes) as h:
            if processes:
                h.app.data["parser"] = Unusable()
            # side by side: the lane reads the waiting texts in one job
            events = [h.event("g-jl", SENDERS[i % len(SENDERS)], t, message_id=f"m{i}") for i, t in enumerate(texts)]
            await one_batch(h.app, events)
            await h.dm("ltq-bs", LONGTAN, message_id="dm")  # the normal chain: one text alone
            await h.say("g-jl", "hd-bs", "", attachments=[Attachment("桦甸日报.xlsx", str(sheet))], message_id="xlsx")
            await h.say("g-jl", "hd-bs", "", attachments=[Attachment("坏.xlsx", str(broken))], message_id="broken")
            await h.drain()
            results.append(await stored(h.app))
            sent.append(sorted((m.chat_id, m.text) for m in h.sent))
            if processes:  # a workbook that cannot be read is the sender's error, not the worker's
                assert workers(h.app).killed == workers(h.app).replaced == 0 and workers(h.app).up == 1
    assert len(results[0]) == len(texts) + 3
    assert results[0]["broken"][0] == "report_unreadable"
    # reports stored (others refused: not their region, or dated after the clock's 3月16日)
    assert sum(len(v) > 2 for v in results[0].values()) >= 7
    assert results[1] == results[0]
    assert sent[1] == sent[0]


async def test_a_burst_reads_on_every_worker_at_once(settings: Settings, clock: FakeClock, tmp_path: Path) -> None:
    """Two workers: two chunks of a burst are parsed side by side (one at a time left a core idle while the
    event loop waited on the database), each by its own worker, and read as one worker reads them; the workers
    run below the bot's priority."""
    texts = [(json.loads(x)["text"], START) for x in SAMPLES.read_text(encoding="utf-8").splitlines() if x.strip()]
    async with bot(settings, clock, tmp_path, 2) as h:
        pool, reader = workers(h.app), h.app.data["report_batcher"].reader
        h.app.data["parser"] = Unusable()
        in_flight: list[int] = []  # jobs running when one started, itself included
        run = pool.run

        async def counted(fn: Any, *args: Any, budget: float) -> Any:
            in_flight.append(len(pool.busy) + 1)
            return await run(fn, *args, budget=budget)

        pool.run = counted  # type: ignore[method-assign]
        first, second = await asyncio.gather(reader.parse_many(texts), reader.parse_many(texts))
        assert max(in_flight) == 2 and pool.up == 2 and pool.killed == pool.replaced == 0
        # below the bot's priority: the event loop and the database come first
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert all(os.getpriority(os.PRIO_PROCESS, w.pid) == min(19, own + NICE) for w in list(pool.idle._queue))
    assert first == second and sum(r is not None and r.report is not None for r in first) >= 20


def big_report(n: int) -> str:
    """A report of n records: read in well over a tiny budget, within the size limits."""
    return "梨树县应急局3月15日检查情况\n" + "\n".join(
        f"{i % 999 + 1}.梨树县第{i}化工有限公司：储罐区无围堰；报警器未检定。已整改。检查人员：张伟、李强" for i in range(n))


async def test_a_read_over_budget_kills_its_worker_and_the_message_is_answered(settings: Settings, clock: FakeClock,
                                                                               tmp_path: Path) -> None:
    async with bot(settings, clock, tmp_path, 1) as h:
        pool = workers(h.app)
        [first] = [w.pid for w in pool.idle._queue]  # type: ignore[attr-defined]
        limits = h.app.data["report_limits"]
        text = big_report(1500)
        assert len(text) < limits.max_text_chars
        h.app.data["report_limits"] = dataclasses.replace(limits, budget_s=0.02)
        assert await h.say("g-jl", "ltq-bs", text) == "report_too_long"
        h.expect_sent("内容过长")
        assert pool.killed == 1 and gone(first)
        await replaced(h.app)
        [second] = [w.pid for w in pool.idle._queue]  # type: ignore[attr-defined]
        assert second != first and not gone(second) and pool.replaced == 1
        h.app.data["report_limits"] = limits
        h.app.data["parser"] = Unusable()
        assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"  # read by the new worker
        h.expect_sent("已登记")


async def test_a_worker_that_dies_is_replaced_and_its_job_read_in_a_thread(settings: Settings, clock: FakeClock,
                                                                          tmp_path: Path) -> None:
    async with bot(settings, clock, tmp_path, 1) as h:
        pool = workers(h.app)
        [first] = [w.pid for w in pool.idle._queue]  # type: ignore[attr-defined]
        os.kill(first, signal.SIGKILL)
        assert await h.say("g-jl", "ltq-bs", LONGTAN) == "report"  # its pool broken: read in a thread
        h.expect_sent("已登记")
        await replaced(h.app)
        assert pool.replaced == 1 and pool.killed == 0
        h.app.data["parser"] = Unusable()
        assert await h.say("g-jl", "ltq-bs", LONGTAN.replace("3月13日", "3月14日")) == "report"


CHILD = """
import asyncio, os, sys
from pathlib import Path
from bot.app import create_app
from bot.settings import ROOT, Settings

async def main() -> None:
    tmp, out = Path(sys.argv[1]), int(sys.argv[2])
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp / 'bot.db'}", var_dir=tmp / "var",
                              config_path=ROOT / "config" / "demo.yaml", scheduler=False, parse_processes=1))
    await app.start(background=False)
    os.write(out, " ".join(str(w.pid) for w in app.parse_workers.idle._queue).encode())
    os.close(out)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_the_workers_of_a_bot_killed_hard_exit_with_it(tmp_path: Path) -> None:
    import select
    import subprocess
    import sys

    r, w = os.pipe()  # not the child's stdout: its forkserver and workers inherit that, not this
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, str(tmp_path), str(w), cwd=ROOT,
                                                pass_fds=(w,), stdout=subprocess.DEVNULL)
    os.close(w)
    try:
        pid = int(await asyncio.wait_for(asyncio.to_thread(os.read, r, 100), 60))
    finally:
        os.close(r)
        proc.kill()
        await proc.wait()
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone already
    try:
        ready, _, _ = await asyncio.to_thread(select.select, [fd], [], [], 30)  # readable when it exits
        if not ready:
            os.kill(pid, signal.SIGKILL)
        assert ready, f"parse worker {pid} outlived its bot"
    finally:
        os.close(fd)
