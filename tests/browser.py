"""What the Chromium tests share: Debian's browser, its flags on this closed network, and a served bot."""
from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.app import App, create_app
from bot.settings import Settings
from bot.web.app import create_web
from tests.services import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps dialling out, and this machine refuses it.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def launch(pw: Any) -> Any:
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


@contextlib.asynccontextmanager
async def serve(settings: Settings, *, sim: bool | None = None) -> AsyncIterator[tuple[App, str]]:
    """The real app and its web server on a free loopback port."""
    app = create_app(settings)
    await app.start()
    runner = web.AppRunner(create_web(app, sim=sim), shutdown_timeout=1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await app.stop()
