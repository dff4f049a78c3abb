"""20,000 pending escalation steps, due over one minute, fired by the bot's own escalation timer on the real
clock (it sleeps until the next step is due, claims what is due in batches, and runs it); how late does each
step fire? Runs on SQLite and then on PostgreSQL (`--db sqlite|postgres` for one).

Limits named: p50_late_s <= 5 and p99_late_s <= 30; the issue-13 goal is p99 <= 1 s."""
from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

from _common import figures, on_each_backend, quiet, scratch_settings, tmpdir, warn_everyone
from fanout import world
from sqlalchemy import bindparam
from sqlmodel import col, func, select, update

from bot.app import create_app
from bot.clock import SystemClock
from models.db import transaction
from models.warnings import EscalationStep

N = int(os.environ.get("BENCH_PEOPLE", "20000"))
SPREAD_S = float(os.environ.get("BENCH_SPREAD_S", "60"))


async def measure(db_url: str | None) -> dict[str, float]:
    with tmpdir() as tmp:
        clock = SystemClock()
        app = create_app(scratch_settings(tmp, db_url, config_path=world(Path(tmp))), clock=clock)
        await app.start(background=False)
        await warn_everyone(app)
        async with transaction(app.sessions) as session:
            ids = (await session.exec(select(EscalationStep.id).where(col(EscalationStep.obligation_id).is_not(None))
                                      .order_by(col(EscalationStep.id)))).all()[:N]
            base = clock.now() + timedelta(seconds=5)
            conn = await session.connection()
            table = EscalationStep.__table__  # type: ignore[attr-defined]
            await conn.execute(update(table).where(table.c.id == bindparam("sid")).values(due_at=bindparam("due")),
                               [{"sid": sid, "due": base + timedelta(seconds=SPREAD_S * i / max(len(ids), 1))}
                                for i, sid in enumerate(ids)])
        print(f"{len(ids)} pending steps due from +5s over {SPREAD_S:g}s", flush=True)
        assert app.scheduler is not None
        app.spawn(app.scheduler.loop("escalate_due"), "timer")  # what App.start runs in the scheduling process
        t0 = time.perf_counter()
        deadline = t0 + SPREAD_S + 600
        while time.perf_counter() < deadline:  # the benchmark watches; the bot does not poll
            await asyncio.sleep(1)
            async with app.sessions() as s:
                left = (await s.exec(select(func.count()).where(EscalationStep.status == "pending",
                                                                col(EscalationStep.obligation_id).is_not(None)))).one()
            if not left:
                break
        async with app.sessions() as s:
            lates = sorted(x for x in (await s.exec(select(EscalationStep.late_s).where(
                col(EscalationStep.obligation_id).is_not(None), EscalationStep.seq == 0))).all() if x is not None)
        await app.stop()
    p50 = statistics.median(lates)
    p99 = lates[int(len(lates) * 0.99) - 1]
    print(f"fired {len(lates)} steps in {time.perf_counter() - t0:.0f}s; lateness p50 {p50:.2f}s, p99 {p99:.2f}s, "
          f"max {lates[-1]:.2f}s (limits p50 <= 5s, p99 <= 30s; goal p99 <= 1s)", flush=True)
    return {"p50_late_s": round(p50, 2), "p99_late_s": round(p99, 2)}


async def main() -> None:
    quiet()
    print("RESULT " + figures(**await on_each_backend(measure)))


if __name__ == "__main__":
    asyncio.run(main())
