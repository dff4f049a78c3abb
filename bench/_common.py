"""Shared set-up for the benchmarks: a real app on a scratch SQLite file and a fake clock."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import TZ, FakeClock
from bot.settings import ROOT, Settings, default_parse_processes


def quiet() -> None:
    import logging

    from bot.logging import setup_logging

    setup_logging(level=logging.WARNING)


def scratch_settings(tmp: str, db_url: str | None = None, **kw: object) -> Settings:
    """Settings on a scratch SQLite file, or on `db_url` (a throwaway PostgreSQL)."""
    processes = int(os.environ.get("BOT_PARSE_PROCESSES") or default_parse_processes())  # as a running bot
    values: dict[str, object] = {"config_path": ROOT / "config" / "demo.yaml", "parse_processes": processes,
                                 "tune_gc": True, **kw}
    return Settings(database_url=db_url or f"sqlite+aiosqlite:///{tmp}/bench.db", var_dir=Path(tmp) / "var",
                    scheduler=False, **values)


def backends(argv: list[str] | None = None) -> list[str]:
    """`--db sqlite|postgres` runs one; no argument runs both, SQLite first."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"])
    args, _ = parser.parse_known_args(argv)
    return [args.db] if args.db else ["sqlite", "postgres"]


async def on_each_backend(measure: Callable[[str | None], Awaitable[dict[str, float]]]) -> dict[str, float]:
    """Run `measure(db_url)` on SQLite (None: its own scratch file) and on a throwaway PostgreSQL started the
    way the tests start it; return both sets of figures, the PostgreSQL ones prefixed `pg_`."""
    from tests.services import postgres

    out: dict[str, float] = {}
    for db in backends():
        print(f"== {db}", flush=True)
        if db == "sqlite":
            out.update(await measure(None))
            continue
        with postgres() as url:
            out.update({f"pg_{k}": v for k, v in (await measure(url)).items()})
    return out


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


def each_backend_in_a_child(script: str) -> bool:
    """For figures of the whole process (peak RSS): with no `--db`, run `script --db X` once per backend in a
    child process and print the combined RESULT line; True when it did (the caller then stops)."""
    import subprocess

    if "--db" in sys.argv:
        return False
    out: dict[str, str] = {}
    for db in backends():
        print(f"== {db}", flush=True)
        proc = subprocess.run([sys.executable, script, "--db", db], capture_output=True, text=True, check=False)
        lines = proc.stdout.strip().splitlines()
        print("\n".join(lines[:-1]) or proc.stderr[-3000:], flush=True)
        if proc.returncode != 0 or not lines or not lines[-1].startswith("RESULT "):
            raise SystemExit(f"{script} --db {db} failed: {proc.stderr[-3000:]}")
        for pair in lines[-1].removeprefix("RESULT ").split():
            k, v = pair.split("=", 1)
            out[k if db == "sqlite" else f"pg_{k}"] = v
    print("RESULT " + " ".join(f"{k}={v}" for k, v in out.items()))
    return True
