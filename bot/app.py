"""The app factory: everything is built here from Settings, nothing at import time."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.collector import tune_gc
from bot.config import Config, load_config
from bot.delivery import notify_failed
from bot.directory import Directory
from bot.dispatch import Dispatcher, Router
from bot.dispatch.intake import LONG_TEXT, store_many
from bot.dispatch.middleware import DEFAULT_CHAIN, ChatLocks, MemoryDedup, RedisDedup
from bot.events import InboundMessage
from bot.ratelimit import MemoryLimiter, RedisLimiter
from bot.redis_state import RedisState
from bot.regions import RegionTree
from bot.scheduler import Scheduler
from bot.sender import OutboxSender
from bot.settings import Settings
from bot.templates import Templates
from bot.transports.simulator import SimulatorTransport
from bot.transports.voice import CallTransport, HttpProvider, RecordingProvider
from bot.workdays import WorkCalendar
from models.db import checkpoint, make_engine, migrate, session_factory, write_generation

TransportFactory = Callable[["App"], Any]
WORKERS = 128  # messages handled side by side; each chat still goes in order (chat lock). Waiting for a
# group commit (reports, acks) costs a worker only a coroutine, and the batches grow with the workers
HEAVY_WORKERS = 4  # attachments and long texts: their own lane, so a burst of 收到 never waits behind them
HEAVY_CHARS = 2_000
FIRST_BATCH = 128  # messages a burst's first intake commit stores at most (then up to 500 at a time)
RECOVER_EVERY_S = 60.0
CHECKPOINT_EVERY_S = 0.5
RECOVER_BATCH = 5000


@dataclass
class App:
    settings: Settings
    clock: Clock
    cfg: Config
    regions: RegionTree
    directory: Directory
    engine: AsyncEngine
    sessions: Any
    templates: Templates
    redis: Any = None
    transports: dict[tuple[str, str], Any] = field(default_factory=dict)
    dispatcher: Dispatcher | None = None
    outbox_sender: OutboxSender | None = None
    scheduler: Scheduler | None = None
    data: dict[str, Any] = field(default_factory=dict)
    tasks: set[asyncio.Task] = field(default_factory=set)
    log: Any = None
    redis_state: Any = None
    parse_pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="parse"))
    parse_workers: Any = None  # worker processes that read reports (settings.parse_processes), else the threads
    leases: Any = None
    _work: asyncio.Queue | None = None
    _heavy: asyncio.Queue | None = None
    _inflight: set[int] = field(default_factory=set)
    on_handled: list[Callable[[int, str], None]] = field(default_factory=list)  # (raw id, outcome) of each
    # message the intake or recovery queued, once handled (benchmarks and tests watch it)

    @property
    def sim(self) -> SimulatorTransport:
        sim = self.transports.get(("sim", "default"))
        if sim is None:
            raise LookupError("the chat simulator is not running (BOT_TRANSPORT=wechaty)")
        return sim

    async def feed(self, event: InboundMessage) -> str:
        assert self.dispatcher is not None
        return await self.dispatcher.feed(event)

    def spawn(self, coro: Any, name: str) -> asyncio.Task:
        """Every background task is tracked and cancelled on shutdown."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("task_failed", task=task.get_name(), error=repr(task.exception()))

    async def prepare(self) -> None:
        """Migrations and run-time bindings; enough for tests and CLI tools."""
        await migrate(self.engine)
        for hook in self.data["startup"]:
            await hook(self)

    async def start(self, *, background: bool = True) -> None:
        await self.prepare()
        if self.parse_workers is not None:
            await self.parse_workers.start()  # ready before the first burst
        for t in self.transports.values():
            await t.start()
        if self.settings.tune_gc:
            tune_gc()
        if not background:
            await self.recover()
            return
        self._work, self._heavy = asyncio.Queue(), asyncio.Queue()
        for i in range(WORKERS):
            self.spawn(self._worker(self._work), f"worker:{i}")
        for i in range(HEAVY_WORKERS):
            self.spawn(self._worker(self._heavy), f"heavy:{i}")
        for lane in self.data.get("burst_lanes", ()):
            for coro, name in lane.tasks():
                self.spawn(coro, name)
        await self.recover()
        for key, t in self.transports.items():
            self.spawn(self._consume(t), f"consume:{key[0]}:{key[1]}")
        assert self.outbox_sender is not None
        self.spawn(self.outbox_sender.run(), "outbox")
        self.spawn(self._recover_every(RECOVER_EVERY_S), "recover")
        if write_generation(self.sessions) is not None:  # SQLite
            self.spawn(self._checkpoint_every(CHECKPOINT_EVERY_S), "checkpoint")
        # sending per account and the scheduler: all here on SQLite; on PostgreSQL, what this process holds
        from bot.leases import install_leases

        self.leases = install_leases(self)
        await self.leases.start()
        if self.leases.shared:
            self.spawn(self.leases.run(), "leases")

    async def _consume(self, transport: Any) -> None:
        """Read the transport's events; store each burst in one commit, acknowledge, then hand it to the workers."""
        inbox: asyncio.Queue[InboundMessage] = asyncio.Queue()
        long_inbox: asyncio.Queue[InboundMessage] = asyncio.Queue()
        self.spawn(self._intake(transport, inbox), f"intake:{transport.name}:{transport.account}")
        self.spawn(self._intake(transport, long_inbox, most=1), f"intake-long:{transport.name}:{transport.account}")
        async for event in transport.events():
            # a long text is stored in parts (many short transactions): on its own, the others do not wait
            (long_inbox if len(event.text) > LONG_TEXT else inbox).put_nowait(event)

    async def _intake(self, transport: Any, inbox: asyncio.Queue[InboundMessage], most: int = 500) -> None:
        acked = getattr(transport, "accepted", None)
        starting = True  # a burst's first batch is small: handling starts while the rest is being stored
        while True:
            batch = [await inbox.get()]
            limit = min(most, FIRST_BATCH) if starting else most
            while not inbox.empty() and len(batch) < limit:
                batch.append(inbox.get_nowait())
            starting = inbox.empty()
            try:
                stored = await store_many(self.data, batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: the transport must not acknowledge
                self.log.error("intake_failed", error=repr(exc)[:300], messages=len(batch))
                for event in batch:
                    if acked:
                        acked(event, exc)
                continue
            light = []
            for (event, raw_id), original in zip(stored, batch, strict=True):
                if acked:
                    acked(original, None)
                if raw_id is None:
                    continue
                if self._is_heavy(event):
                    self._queue_work(event, raw_id)
                else:
                    self._inflight.add(raw_id)
                    light.append((event, raw_id))
            assert self.dispatcher is not None
            self.dispatcher.feed_many(light, self._queue_work, self._handled)

    @staticmethod
    def _is_heavy(event: InboundMessage) -> bool:
        return bool(event.attachments) or len(event.text) > HEAVY_CHARS

    def _queue_work(self, event: InboundMessage, raw_id: int) -> None:
        assert self._work is not None and self._heavy is not None
        self._inflight.add(raw_id)
        (self._heavy if self._is_heavy(event) else self._work).put_nowait((event, raw_id))

    def _handled(self, raw_id: int, outcome: str) -> None:
        self._inflight.discard(raw_id)
        for listener in self.on_handled:
            listener(raw_id, outcome)

    async def _worker(self, queue: asyncio.Queue) -> None:
        while True:
            event, raw_id = await queue.get()
            try:
                outcome = await self.dispatcher.feed(event, raw_id=raw_id)  # type: ignore[union-attr]
            except asyncio.CancelledError:
                self._inflight.discard(raw_id)  # still `pending`: handled again on the next start
                raise
            except Exception:
                self.log.exception("feed_failed", raw_id=raw_id)
                outcome = "failed"
            self._handled(raw_id, outcome)

    async def recover(self, older_than_s: float = 0.0) -> int:
        """Handle again every raw message still `pending`: accepted, but its outcome never committed (a crash).
        Handling is idempotent: the outcome commits together with the handler's effects."""
        from datetime import timedelta

        from sqlalchemy import text
        from sqlmodel import col, select

        from bot.dispatch.intake import event_of, full_texts
        from models.core import PENDING, RawMessage

        cutoff = self.clock.now() - timedelta(seconds=older_than_s)
        async with self.sessions() as session:
            rows = (await session.exec(
                select(RawMessage).where(text(PENDING), col(RawMessage.received_at) <= cutoff)  # its partial index
                .order_by(col(RawMessage.id)).limit(RECOVER_BATCH)
            )).all()
            texts = await full_texts(session, rows)
        rows = [r for r in rows if r.id not in self._inflight]
        if rows:
            self.log.warning("recovering_pending", messages=len(rows))
        for row in rows:
            assert row.id is not None
            if self._work is not None:
                self._queue_work(event_of(row, texts.get(row.id)), row.id)
            else:
                await self.dispatcher.feed(event_of(row, texts.get(row.id)), raw_id=row.id)  # type: ignore[union-attr]
        return len(rows)

    async def _recover_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.recover(older_than_s=seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("recover_failed")

    async def _checkpoint_every(self, seconds: float) -> None:
        """SQLite: the log is copied into the database here, never by a committing writer (see models.db)."""
        done = write_generation(self.sessions)
        while True:
            await asyncio.sleep(seconds)
            now = write_generation(self.sessions)
            if now == done:
                continue
            try:
                await checkpoint(self.engine)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the backstop threshold still bounds the log
                self.log.warning("checkpoint_failed", error=repr(exc)[:200])
            done = now

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.outbox_sender is not None:
            await self.outbox_sender.close()
        for t in self.transports.values():
            await t.stop()
        if self.parse_workers is not None:
            await self.parse_workers.stop()
        self.parse_pool.shutdown(wait=False, cancel_futures=True)
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transports: Iterable[TransportFactory] | None = None,
    routers: Iterable[Router] | None = None,
) -> App:
    cfg, regions = load_config(settings.config_path)
    clock = clock or SystemClock()
    directory = Directory(cfg, regions)
    engine = make_engine(settings.database_url)
    templates = Templates.load(settings.config_path.parent / "templates.yaml", bot=cfg.bot.name)
    app = App(settings, clock, cfg, regions, directory, engine, session_factory(engine), templates,
              log=structlog.get_logger("bot"))
    redis = None
    if settings.redis_url:
        from redis.asyncio import Redis

        # short timeouts: a Redis that is down must cost a moment, not a hang (then the fallbacks take over)
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)
        app.redis = redis
        app.redis_state = RedisState()
    limiter_cls_args = (cfg.outbox.rate_per_minute, cfg.outbox.burst, cfg.outbox.accounts)
    limiter = (RedisLimiter(redis, *limiter_cls_args, state=app.redis_state) if redis
               else MemoryLimiter(*limiter_cls_args))
    provider = call_provider(cfg)
    app.data = {
        "app": app,
        "clock": clock,
        "settings": settings,
        "cfg": cfg,
        "regions": regions,
        "directory": directory,
        "templates": templates,
        "sessions": app.sessions,
        "dedup": RedisDedup(redis, app.redis_state) if redis else MemoryDedup(),
        "chat_locks": ChatLocks(),
        "log": app.log,
        "startup": [],
        "prepare": [],
        "fast_lanes": [],
        "burst_lanes": [],
        "calendar": WorkCalendar(cfg.schedule.extra_workdays, cfg.schedule.extra_holidays),
        "web_routes": [],
        "call_provider": provider,
        "on_transport_state": lambda event, info: transport_state(app, event, info),
    }
    for factory in transports or [lambda a: SimulatorTransport(a.directory, a.clock)]:
        made = factory(app)
        for t in made if isinstance(made, list) else [made]:
            app.transports[(t.name, t.account)] = t
    for kind in ("voice", "sms"):
        app.transports.setdefault((kind, "default"), CallTransport(kind, provider))
    app.outbox_sender = OutboxSender(app.sessions, app.transports, limiter, clock, cfg.outbox)
    app.outbox_sender.notify = lambda kind, info: notify_failed(app, kind, info)
    app.scheduler = Scheduler(app, clock)
    app.data["outbox_sender"] = app.outbox_sender
    app.data["transport_names"] = sorted({name for name, _ in app.transports})
    from handlers import install

    chosen = list(routers) if routers is not None else install(app)
    app.dispatcher = Dispatcher(chosen, DEFAULT_CHAIN, app.data)
    return app


def call_provider(cfg: Config) -> Any:
    w = cfg.warnings
    if w.voice_provider == "http" and w.voice_endpoint:
        return HttpProvider(w.voice_endpoint)
    return RecordingProvider()


async def transport_state(app: App, event: str, info: dict[str, Any]) -> None:
    """A gateway came back after a drop: tell the admins once, in a short line. A file could not be
    taken in: tell its sender in one line."""
    from bot.outbox import Outbox
    from models.db import transaction

    if event == "file_problem":
        async with transaction(app.sessions) as session:
            Outbox(session, app.data).reply(info["event"], info["text"])
        if app.outbox_sender is not None:
            app.outbox_sender.wake()
        return
    if event != "reconnected":
        return

    text = (f"微信网关（账号 {info.get('account')}）连接中断约{int(info.get('down_s', 0))}秒，已自动恢复；"
            "中断期间未发出的消息正在补发。")
    async with transaction(app.sessions) as session:
        outbox = Outbox(session, app.data)
        for admin in app.directory.with_role("admin"):
            outbox.to_person(admin, text, reason="transport")
    if app.outbox_sender is not None:
        app.outbox_sender.wake()
