"""The app factory: everything is built here from Settings, nothing at import time."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.config import Config, load_config
from bot.delivery import notify_failed
from bot.directory import Directory
from bot.dispatch import Dispatcher, Router
from bot.dispatch.middleware import DEFAULT_CHAIN, ChatLocks, MemoryDedup, RedisDedup
from bot.events import InboundMessage
from bot.outbox import OutboxSender
from bot.ratelimit import MemoryLimiter, RedisLimiter
from bot.regions import RegionTree
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.templates import Templates
from bot.transports.simulator import SimulatorTransport
from bot.transports.voice import CallTransport, HttpProvider, RecordingProvider
from bot.workdays import WorkCalendar
from models.db import make_engine, migrate, session_factory

TransportFactory = Callable[["App"], Any]


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
    leases: Any = None
    _sem: asyncio.Semaphore | None = None

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
        for t in self.transports.values():
            await t.start()
        if not background:
            return
        self._sem = asyncio.Semaphore(64)
        for key, t in self.transports.items():
            self.spawn(self._consume(t), f"consume:{key[0]}:{key[1]}")
        assert self.outbox_sender is not None
        self.spawn(self.outbox_sender.run(), "outbox")
        # sending per account and the scheduler: all here on SQLite; on PostgreSQL, what this process holds
        from bot.leases import install_leases

        self.leases = install_leases(self)
        await self.leases.start()
        if self.leases.shared:
            self.spawn(self.leases.run(), "leases")

    async def _consume(self, transport: Any) -> None:
        assert self._sem is not None
        async for event in transport.events():
            await self._sem.acquire()
            self.spawn(self._handle(event), f"handle:{event.message_id}")

    async def _handle(self, event: InboundMessage) -> None:
        try:
            await self.feed(event)
        finally:
            assert self._sem is not None
            self._sem.release()

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for t in self.transports.values():
            await t.stop()
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

        redis = Redis.from_url(settings.redis_url)
        app.redis = redis
    limiter_cls_args = (cfg.outbox.rate_per_minute, cfg.outbox.burst, cfg.outbox.accounts)
    limiter = RedisLimiter(redis, *limiter_cls_args) if redis else MemoryLimiter(*limiter_cls_args)
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
        "dedup": RedisDedup(redis) if redis else MemoryDedup(),
        "chat_locks": ChatLocks(),
        "log": app.log,
        "startup": [],
        "fast_lanes": [],
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
