from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, create_app
from bot.clock import TZ, FakeClock
from bot.settings import ROOT, Settings
from tests import services
from tests.harness import Harness

START = datetime(2026, 3, 16, 9, 0, tzinfo=TZ)  # a Monday
LONGTAN_REPORT = (
    "吉林市龙潭区应急管理局3月13日监督检查情况\n【检查单位】龙潭区应急管理局危化股\n【受检单位】吉林市丰源化工有限公司\n"
    "【检查地点】龙潭区遵义东路188号\n【发现的问题隐患】1.罐区可燃气体报警器未按期检定；2.装卸区静电接地报警仪损坏\n"
    "【检查人员】王立群、刘晓东\n【整改情况】责令限期7日内整改"
)


@pytest.fixture(scope="session", autouse=True)
def quiet_logs() -> None:
    import logging

    from bot.logging import setup_logging

    setup_logging(level=logging.WARNING)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outbound network access in tests is an error: only loopback and unix sockets are allowed."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not (host.startswith("127.") or host in ("::1", "localhost")):
                raise RuntimeError(f"test tried to reach the network: {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def _service(start: Any) -> Iterator[str]:
    """A real server for the session; missing binaries skip the test locally and fail it in CI."""
    try:
        with start() as url:
            yield url
    except RuntimeError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    yield from _service(services.postgres)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    yield from _service(services.redis_server)


async def _fresh_pg_database(server_url: str) -> str:
    import asyncpg

    name = "t_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(server_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        server = request.getfixturevalue("pg_server")
        return await _fresh_pg_database(server)
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, config_path=ROOT / "config" / "demo.yaml", var_dir=tmp_path / "var",
                    scheduler=False, api_token="test-token", api_token_owner="liwd", sim_web=True)


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[App]:
    bot = create_app(settings, clock=clock)
    await bot.start(background=False)
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
async def h(app: App, clock: FakeClock) -> Harness:
    return Harness(app, clock)


def both_backends(fn: Any) -> Any:
    """Run a storage or dispatcher test on SQLite and on the throwaway PostgreSQL."""
    return pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)(fn)
