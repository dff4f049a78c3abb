"""Who does what when two bot processes share PostgreSQL: each chat account's sending and the scheduler are
held by one process at a time, through PostgreSQL session advisory locks on one dedicated connection.

A process that dies (kill -9, a lost host) drops its connection, and PostgreSQL releases its locks at once;
the other process takes them on its next look (every `every_s`). A process whose lock connection fails lets
go of everything before it reconnects, so two processes never both believe they hold a lease. SQLite is the
single-process embedded default: there every lease is simply held."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

SCHEDULER = "scheduler"
Listener = Callable[[str, bool], Awaitable[None]]


def account_lease(transport: str, account: str) -> str:
    return f"account:{transport}:{account}"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock."""
    return int.from_bytes(hashlib.sha1(f"yijian-bot:{name}".encode()).digest()[:8], "big", signed=True)


class Leases:
    def __init__(self, engine: AsyncEngine, names: Iterable[str], every_s: float = 1.0) -> None:
        self.engine = engine
        self.names = list(dict.fromkeys(names))
        self.every_s = every_s
        self.shared = engine.dialect.name == "postgresql"
        self.held: set[str] = set() if self.shared else set(self.names)
        self.listeners: list[Listener] = []
        self._conn: AsyncConnection | None = None
        self.log = structlog.get_logger("leases")

    def holds(self, name: str) -> bool:
        return name in self.held

    def on_change(self, listener: Listener) -> None:
        self.listeners.append(listener)

    async def _tell(self, name: str, held: bool) -> None:
        self.log.info("lease_taken" if held else "lease_lost", lease=name)
        for listener in self.listeners:
            await listener(name, held)

    async def start(self) -> None:
        """Before the background loop: tell listeners about the leases held from the start (SQLite: all)."""
        for name in sorted(self.held):
            await self._tell(name, True)

    async def step(self) -> None:
        """One look: check the lock connection, try every lease not held."""
        if not self.shared:
            return
        try:
            if self._conn is None:
                self._conn = await self.engine.connect()
                await self._conn.execute(text("SET application_name = 'bot-leases'"))
                await self._conn.commit()
            else:
                await self._conn.execute(text("SELECT 1"))
            for name in self.names:
                if name in self.held:
                    continue
                got = (await self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)})).scalar()
                await self._conn.commit()  # advisory locks are per session: they outlive the transaction
                if got:
                    self.held.add(name)
                    await self._tell(name, True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the lock connection is gone: so are the locks
            self.log.warning("lease_connection_lost", error=repr(exc))
            await self.release_all()

    async def release_all(self) -> None:
        lost, self.held = sorted(self.held), set() if self.shared else self.held
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.invalidate()
            self._conn = None
        if self.shared:
            for name in lost:
                await self._tell(name, False)

    async def run(self) -> None:
        try:
            while True:
                await self.step()
                await asyncio.sleep(self.every_s)
        finally:
            if self.shared and self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()  # a clean stop hands the leases over at once
                self._conn = None


def install_leases(app: Any) -> Leases:
    """The leases of this process: one per chat account it has a transport for, and the scheduler."""
    names = [account_lease(t, a) for t, a in sorted(app.transports)] + [SCHEDULER]
    leases = Leases(app.engine, names)
    assert app.outbox_sender is not None
    app.outbox_sender.serves = lambda transport, account: leases.holds(account_lease(transport, account))

    async def follow(name: str, held: bool) -> None:
        if name == SCHEDULER and app.scheduler is not None and app.settings.scheduler:
            if held:
                app.scheduler.start()
            else:
                app.scheduler.shutdown()
        elif held and app.outbox_sender is not None:
            app.outbox_sender.reread()  # the rows of a dead holder are ours now

    leases.on_change(follow)
    return leases
