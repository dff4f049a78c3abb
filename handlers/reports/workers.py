"""Reports read in worker processes: the parser is pure Python, so in threads it shares one core with the
event loop; in processes ingest uses the others, and a parse over its time budget can really be stopped.

Each worker is a one-process pool of its own, so the one running a job over budget is killed alone (the
others' jobs go on) and replaced in the background. A job starts only on an idle worker, so its budget is
its own run time, not a wait behind others. When no worker is up (starting, replaced, broken), or none is
free within the budget, the job runs in the app's parse threads instead: nothing waits for a worker that
may never come back. Processes come from a forkserver that has imported the parser once: a new worker is a
fork of a clean single-threaded process (never of this threaded one) and is ready in milliseconds."""
from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from bot.collector import tune_gc
from handlers.reports.parse import Parser, ParseResult

START_S = 30.0  # a new worker's start (fork, imports, its parser); past it the worker counts as broken
RETRY_S = 5.0  # between attempts to replace a worker that would not start
NICE = 10  # the workers yield the cores to the event loop and the database: an answer to a warning is never
# queued behind a re-import's parsing, and a burst's commits keep up with its reading (A/B on the parse bench,
# PostgreSQL: ratio 0.566 and 0.577 against 0.520 and 0.559 for the workers at the bot's own priority)
PRELOAD = ["handlers.reports.workers", "handlers.reports.bounded"]  # imported once by the forkserver; each worker forks with it loaded

_parser: Parser | None = None  # the parser of a worker process (set by `_init` there; unused in the bot's own)


def parse_each(parser: Any, job: list[tuple[str, datetime]]) -> list[ParseResult | None]:
    """Each text of a batch read; None for one that breaks the parser (read again alone by the normal chain)."""
    out: list[ParseResult | None] = []
    for text, at in job:
        try:
            out.append(parser.parse(text, at))
        except Exception:
            out.append(None)
    return out


# -- what runs in a worker process (module functions: a job names them, it cannot carry the parser)
def _init(parser_cls: type, args: tuple[Any, ...], bot_pid: int) -> None:
    global _parser
    _parser = parser_cls(*args)
    with contextlib.suppress(OSError):
        os.nice(NICE)
    tune_gc()  # a job's results stay alive until sent back: with the defaults the collector walks them often
    threading.Thread(target=_exit_with, args=(bot_pid,), name="exit-with-bot", daemon=True).start()


def _exit_with(pid: int) -> None:
    """A worker of a bot killed hard would wait for its next job forever (and keep the forkserver alive):
    it exits when the bot does."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): look every few seconds
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            time.sleep(RETRY_S)
    select.select([fd], [], [])
    os._exit(0)


def _ready() -> int:
    assert _parser is not None
    return os.getpid()


def worker_parser() -> Parser:
    """In a worker process: its parser."""
    assert _parser is not None
    return _parser


def batch_job(job: list[tuple[str, datetime]]) -> list[ParseResult | None]:
    return parse_each(_parser, job)


def text_job(text: str, at: datetime) -> ParseResult:
    return worker_parser().parse(text, at)


@dataclass(eq=False)
class Worker:
    pool: ProcessPoolExecutor
    pid: int


class Unavailable(Exception):
    """No worker free: the caller reads the job in a thread instead."""


class ParseWorkers:
    def __init__(self, n: int, parser_args: tuple[Any, ...], spawn: Callable[..., Any], log: Any,
                 parser_cls: type = Parser) -> None:
        self.n = n
        self.parser_args = parser_args
        self.parser_cls = parser_cls
        self.spawn = spawn
        self.log = log
        self.idle: asyncio.Queue[Worker] = asyncio.Queue()
        self.up = 0  # workers started and not being replaced: idle or busy
        self.killed = 0  # workers killed over budget
        self.replaced = 0  # workers replaced (killed, or found broken)
        self.busy: set[Worker] = set()
        self._stopped = False
        self._replacing: set[asyncio.Task] = set()

    async def start(self) -> None:
        """All workers started and their parsers built (the first burst must not pay for it)."""
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        self._ctx = ctx
        for worker in await asyncio.gather(*(self._new() for _ in range(self.n))):
            self._back(worker)

    async def _new(self) -> Worker:
        pool = ProcessPoolExecutor(1, mp_context=self._ctx, initializer=_init,
                                   initargs=(self.parser_cls, self.parser_args, os.getpid()))
        try:
            async with asyncio.timeout(START_S):
                pid = await asyncio.wrap_future(pool.submit(_ready))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return Worker(pool, pid)

    def _back(self, worker: Worker) -> None:
        self.up += 1
        self.idle.put_nowait(worker)

    async def run(self, fn: Callable[..., Any], *args: Any, budget: float) -> Any:
        """`fn(*args)` in a worker within `budget` seconds. TimeoutError over it (the worker is killed and
        replaced); Unavailable when no worker is free in time or the worker broke (the caller reads it in
        a thread); the job's own exception as it raised it."""
        if self.up == 0 or self._stopped:
            raise Unavailable
        try:
            async with asyncio.timeout(budget):
                worker = await self.idle.get()
        except TimeoutError:
            raise Unavailable from None
        self.busy.add(worker)
        ok = False
        try:
            async with asyncio.timeout(budget):
                result = await asyncio.wrap_future(worker.pool.submit(fn, *args))
            ok = True
            return result
        except TimeoutError:
            self.killed += 1
            self.log.warning("parse_worker_killed", pid=worker.pid, budget_s=budget)
            raise
        except BrokenProcessPool as exc:
            self.log.warning("parse_worker_broken", pid=worker.pid, error=repr(exc)[:200])
            raise Unavailable from exc
        except Exception:
            ok = True  # the job's own error (a workbook that cannot be read): the worker is fine
            raise
        finally:
            self.busy.discard(worker)
            if ok:
                self.idle.put_nowait(worker)
            else:  # over budget, broken, or the caller cancelled: the job may still be running
                self.up -= 1
                self._kill(worker)
                if not self._stopped:
                    task = self.spawn(self._replace(), f"parse-worker:{worker.pid}")
                    self._replacing.add(task)
                    task.add_done_callback(self._replacing.discard)

    def _kill(self, worker: Worker) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
        worker.pool.shutdown(wait=False, cancel_futures=True)

    async def _replace(self) -> None:
        while not self._stopped:
            try:
                worker = await self._new()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.error("parse_worker_start_failed", error=repr(exc)[:200])
                await asyncio.sleep(RETRY_S)
                continue
            if self._stopped:
                self._kill(worker)
                return
            self.replaced += 1
            self._back(worker)
            return

    async def stop(self) -> None:
        self._stopped = True
        for task in list(self._replacing):  # a worker half started is shut down by `_new`
            task.cancel()
        await asyncio.gather(*self._replacing, return_exceptions=True)
        while not self.idle.empty():
            worker = self.idle.get_nowait()
            worker.pool.shutdown(wait=False, cancel_futures=True)  # it exits when it reads the stop
        for worker in list(self.busy):
            self._kill(worker)
        self.up = 0


async def off_loop(app: Any, in_thread: Callable[..., Any], in_worker: Callable[..., Any], *args: Any,
                   budget: float) -> Any:
    """`in_worker(*args)` in a parse worker process, or `in_thread(*args)` in the app's parse threads when
    there are none (`parse_processes` 0) or none is free; within `budget` seconds (TimeoutError past it)."""
    workers: ParseWorkers | None = app.data.get("parse_workers")
    if workers is not None:
        try:
            return await workers.run(in_worker, *args, budget=budget)
        except Unavailable:
            pass
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.run_in_executor(app.parse_pool, partial(in_thread, *args)), budget)
