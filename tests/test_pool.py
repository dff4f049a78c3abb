"""The PostgreSQL pool's liveness check: no round trip for a connection just used, a new connection for
one the server closed, a ping for one idle a while."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

import models.db
from models.db import make_engine
from tests.conftest import _fresh_pg_database


async def _alive(engine: Any, pid: int) -> bool:
    async with engine.connect() as conn:
        return bool((await conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                        {"p": pid})).scalar_one())


async def test_a_connection_the_server_closed_is_replaced(pg_server: str) -> None:
    url = await _fresh_pg_database(pg_server)
    engine = make_engine(url)
    admin = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            driver = (await conn.get_raw_connection()).driver_connection
        async with admin.connect() as conn:  # what a server restart does to an idle pooled connection
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})).scalar_one()
        for _ in range(5000):  # until asyncpg has read the end of its socket; each query runs the loop
            if driver.is_closed():
                break
            await _alive(admin, pid)
        assert driver.is_closed()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_idle_connections_are_pinged_and_busy_ones_are_not(pg_server: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(await _fresh_pg_database(pg_server))
    pings: list[int] = []
    try:
        async with engine.connect() as conn:  # a fresh connection is trusted
            await conn.execute(text("SELECT 1"))
            adapter = type((await conn.get_raw_connection()).dbapi_connection)
            real_ping = adapter.ping
            monkeypatch.setattr(adapter, "ping", lambda self: (pings.append(1), real_ping(self))[1])
        async with engine.connect() as conn:  # used a moment ago: no round trip
            await conn.execute(text("SELECT 1"))
        assert pings == []
        monkeypatch.setattr(models.db, "PING_AFTER_IDLE_S", 0.0)
        async with engine.connect() as conn:  # idle past the limit: pinged first
            await conn.execute(text("SELECT 1"))
        assert pings == [1]
    finally:
        await engine.dispose()
