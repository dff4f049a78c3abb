"""Engine, sessions and migrations."""
from __future__ import annotations

import asyncio
import collections
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from models.bulk import Raw, Writes

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=10)
        event.listen(engine.sync_engine, "checkout", _alive)
        event.listen(engine.sync_engine, "checkin", _idle_since)
    commits = _COMMITS[engine.sync_engine] = [0]
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1))
    return engine


PING_AFTER_IDLE_S = 10.0


def _idle_since(_dbapi_conn: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _alive(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """A cheaper pre-ping. SQLAlchemy's costs three round trips on asyncpg (BEGIN, `;`, ROLLBACK) at every
    checkout: a third of an ack batch's. A connection the server closed (a restart) is known to asyncpg
    without asking; one idle a while is pinged; a fresh one is trusted. DisconnectionError makes the pool
    discard it and connect anew."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("connection closed by the server")
    if time.monotonic() - record.info.get("idle_since", time.monotonic()) >= PING_AFTER_IDLE_S:
        try:
            dbapi_conn.ping()
        except Exception as exc:
            raise DisconnectionError(str(exc)) from exc


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA wal_autocheckpoint={AUTO_CHECKPOINT_PAGES}")
    cur.close()


# SQLite's own checkpoint runs inside the commit that crosses its threshold (1,000 pages by default): tens of
# milliseconds with the writer lock held, every few megabytes. The running bot checkpoints from a connection of
# its own instead (`checkpoint`); this threshold is only the backstop for tools and tests that do not.
AUTO_CHECKPOINT_PAGES = 16_384


async def checkpoint(engine: AsyncEngine) -> None:
    """Copy the write-ahead log into the database file, outside the writer lock: a PASSIVE checkpoint waits for
    no reader or writer, and they do not wait for it. Nothing to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class WriterLock:
    """A FIFO lock with an express lane: storing inbound messages goes before queued handlers, so that
    acknowledging a message never waits for a backlog of handling."""

    def __init__(self) -> None:
        self._locked = False
        self._lanes: tuple[collections.deque[asyncio.Future[None]], ...] = (collections.deque(), collections.deque())

    async def acquire(self, urgent: bool = False) -> None:
        if not self._locked and not any(self._lanes):
            self._locked = True
            return
        waiter = asyncio.get_running_loop().create_future()
        self._lanes[0 if urgent else 1].append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # it was handed the lock as it was cancelled: pass it on
            else:
                for lane in self._lanes:
                    if waiter in lane:
                        lane.remove(waiter)
            raise

    def release(self) -> None:
        for lane in self._lanes:
            while lane:
                waiter = lane.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # ownership passes straight on; _locked stays True
                    return
        self._locked = False


_WRITERS: weakref.WeakKeyDictionary[Any, WriterLock] = weakref.WeakKeyDictionary()


def _writer_lock(factory: async_sessionmaker[AsyncSession]) -> WriterLock | None:
    """SQLite has one writer; queueing writers here beats its busy handler, which sleeps and backs off."""
    bind = factory.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return None
    lock = _WRITERS.get(bind.sync_engine)
    if lock is None:
        lock = _WRITERS[bind.sync_engine] = WriterLock()
    return lock


_COMMITS: weakref.WeakKeyDictionary[Any, list[int]] = weakref.WeakKeyDictionary()


def commit_count(factory: async_sessionmaker[AsyncSession]) -> int:
    """How many transactions this process has committed."""
    bind = factory.kw.get("bind")
    counter = _COMMITS.get(bind.sync_engine) if bind is not None else None
    return -1 if counter is None else counter[0]


def write_generation(factory: async_sessionmaker[AsyncSession]) -> int | None:
    """How many transactions this process has committed on SQLite, where no other process writes; None on
    PostgreSQL, where other processes write too."""
    bind = factory.kw.get("bind")
    return commit_count(factory) if bind is not None and bind.dialect.name == "sqlite" else None


@asynccontextmanager
async def writing(factory: async_sessionmaker[AsyncSession], *, urgent: bool = False) -> AsyncIterator[None]:
    """SQLite's writer lock held for the block (nothing on PostgreSQL). `urgent`: this writer goes first."""
    lock = _writer_lock(factory)
    if lock is None:
        yield
        return
    await lock.acquire(urgent)
    try:
        yield
    finally:
        lock.release()


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession], *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on error. `urgent`: SQLite's writer goes to it first."""
    async with writing(factory, urgent=urgent), factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def committing(factory: async_sessionmaker[AsyncSession], conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """A write on an open Core connection (no ORM session: the hot paths write plain rows), committed at the
    end and rolled back on error; under SQLite's writer lock."""
    async with writing(factory):
        try:
            yield conn
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise


async def write_in_one_hop(factory: async_sessionmaker[AsyncSession], conn: AsyncConnection, stmt: Raw,
                           rows: list[dict[str, Any]]) -> int:
    """SQLite: one statement for many rows and its commit, in one hop to the database thread (through
    SQLAlchemy a statement costs three hops and the commit a fourth); under the writer lock and counted as a
    commit like any other. The rows it changed."""
    dialect = conn.dialect
    sql = stmt.compiled(dialect)[0]
    args = [stmt.args(dialect, r) for r in rows]
    driver = (await conn.get_raw_connection()).driver_connection

    def run() -> int:
        db = driver._conn  # the sqlite3 connection, on its own thread (aiosqlite's `_execute`)
        try:
            changed = db.executemany(sql, args).rowcount
            db.commit()
        except BaseException:
            db.rollback()
            raise
        return int(changed)

    async with writing(factory):
        changed = await driver._execute(run)
    _COMMITS[conn.engine.sync_engine][0] += 1
    return changed


async def write_alone(conn: AsyncConnection, sql: str, *args: Any, fetch: bool = False) -> Any:
    """PostgreSQL: one statement (driver SQL), committed: on its own when the connection has no transaction
    open (one round trip; through SQLAlchemy a write costs a BEGIN, the statement and a COMMIT), else in that
    transaction, then committed. Its rows (`fetch`) or the rows it changed."""
    driver = (await conn.get_raw_connection()).driver_connection
    open_ = conn.in_transaction()
    result = await (driver.fetch(sql, *args) if fetch else driver.execute(sql, *args))
    if open_:
        await conn.commit()
    else:
        _COMMITS[conn.engine.sync_engine][0] += 1
    return result if fetch else int(result.rsplit(" ", 1)[-1])


async def bulk_insert(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Many plain rows in the caller's transaction, planned and sent by `models.bulk.Writes` (one hop with
    executemany on SQLite, COPY on PostgreSQL, Python-side defaults applied); rows whose keys differ take
    a plain INSERT."""
    if not rows:
        return
    keys = rows[0].keys()
    if all(r.keys() == keys for r in rows):
        writes = Writes(conn)
        writes.insert(table, rows)
        await writes.flush()
        return
    await conn.execute(getattr(table, "__table__", table).insert(), rows)


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations on the engine's own connection (works inside a running loop)."""

    def run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    if engine.dialect.name != "sqlite":
        async with engine.begin() as conn:
            await conn.run_sync(run)
        return
    # SQLite, on an engine of its own: Python's sqlite3 runs DDL outside any transaction, so a migration that
    # failed halfway stayed half done; here the whole upgrade is one transaction. Foreign keys are off during it
    # (batch mode copies a table and drops the old one, which the key of a table with rows refuses) and checked
    # once at the end: SQLite's own advice for schema changes.
    own = create_async_engine(engine.url, connect_args={"timeout": 30})
    event.listen(own.sync_engine, "connect", _migration_pragmas)
    event.listen(own.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        async with own.begin() as conn:
            # scratch copies of batch mode left by a migration that failed halfway before upgrades were atomic
            for (name,) in (await conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_alembic\\_tmp\\_%' ESCAPE '\\'")).all():
                await conn.exec_driver_sql(f'DROP TABLE "{name}"')
            await conn.run_sync(run)
            broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
            if broken:
                raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
    finally:
        await own.dispose()


def _migration_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # no transactions of the driver's own: the engine's "begin" opens one
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=OFF")
    cur.close()
