"""Shared set-up for the benchmarks: a real app on a scratch SQLite file and a fake clock."""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import TZ, FakeClock
from bot.settings import ROOT, Settings


def quiet() -> None:
    import logging

    from bot.logging import setup_logging

    setup_logging(level=logging.WARNING)


def scratch_settings(tmp: str, **kw: object) -> Settings:
    values: dict[str, object] = {"config_path": ROOT / "config" / "demo.yaml", **kw}
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db", var_dir=Path(tmp) / "var", scheduler=False,
                    **values)


def fake_clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 16, 9, 0, tzinfo=TZ))


def tmpdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-")


def figures(**values: float) -> str:
    """`name=value name=value …` for the machine-readable last line."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


async def warn_everyone(app: Any) -> int:
    """Issue one red warning to every region through the real activation path; returns the people named."""
    from bot.outbox import Outbox
    from handlers.warnings.issue import Order, activate, new_warning
    from models.db import transaction

    async with transaction(app.sessions) as session:
        order = Order("红色", "暴雨预警", [r.key for r in app.regions.cities()], "高风险，严防死守", None)
        w = new_warning(app, order, "duty", app.clock.now(), None, None)
        session.add(w)
        await session.flush()
        return await activate(app, session, Outbox(session, app.data), w, app.clock.now())


async def bare_inserts(app: Any, events: list[Any]) -> float:
    """Seconds to insert the same raw rows one transaction each, on the same engine: the yardstick."""
    from models.core import RawMessage

    t0 = time.perf_counter()
    for e in events:
        async with app.sessions() as s:
            s.add(RawMessage(transport="bare", chat_id=e.chat_id, sender_id=e.sender_id, message_id=e.message_id,
                             text=e.text, received_at=e.received_at))
            await s.commit()
    return time.perf_counter() - t0
