"""Shared set-up for the benchmarks: a real app on a scratch SQLite file and a fake clock."""
from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

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


def result(**figures: float) -> str:
    return "RESULT " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
