"""20,000 pending escalation steps, due over one minute, fired by the real escalation job on the real
clock (as APScheduler would call it, every second); how late does each step fire?

Limits named: p50_late_s <= 5 and p99_late_s <= 30."""
from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

from _common import figures, quiet, scratch_settings, tmpdir, warn_everyone
from fanout import world
from sqlmodel import col, select

from bot.app import create_app
from bot.clock import SystemClock
from handlers.warnings.escalate import escalate_due
from models.db import transaction
from models.warnings import EscalationStep

N = int(os.environ.get("BENCH_PEOPLE", "20000"))
SPREAD_S = float(os.environ.get("BENCH_SPREAD_S", "60"))


async def main() -> None:
    quiet()
    with tmpdir() as tmp:
        clock = SystemClock()
        app = create_app(scratch_settings(tmp, config_path=world(Path(tmp))), clock=clock)
        await app.start(background=False)
        await warn_everyone(app)
        async with transaction(app.sessions) as session:
            steps = (await session.exec(select(EscalationStep).where(col(EscalationStep.obligation_id).is_not(None)))).all()
            base = clock.now() + timedelta(seconds=5)
            for i, s in enumerate(steps[:N]):
                s.due_at = base + timedelta(seconds=SPREAD_S * i / max(len(steps), 1))
                session.add(s)
        print(f"{min(N, len(steps))} pending steps due from +5s over {SPREAD_S:g}s")
        t0 = time.perf_counter()
        deadline = t0 + SPREAD_S + 600
        while time.perf_counter() < deadline:
            await escalate_due(app, clock.now(), batch=2000, rounds=1)
            async with app.sessions() as s:
                left = (await s.exec(select(EscalationStep.id).where(EscalationStep.status == "pending",
                                                                     col(EscalationStep.obligation_id).is_not(None),
                                                                     EscalationStep.seq == 0))).first()
            if left is None:
                break
            await asyncio.sleep(1)
        async with app.sessions() as s:
            lates = sorted(x for x in (await s.exec(select(EscalationStep.late_s).where(
                col(EscalationStep.obligation_id).is_not(None), EscalationStep.seq == 0))).all() if x is not None)
        await app.stop()
    p50 = statistics.median(lates)
    p99 = lates[int(len(lates) * 0.99) - 1]
    print(f"fired {len(lates)} steps in {time.perf_counter() - t0:.0f}s; lateness p50 {p50:.2f}s, p99 {p99:.2f}s, "
          f"max {lates[-1]:.2f}s (limits p50 <= 5s, p99 <= 30s)")
    print("RESULT " + figures(p50_late_s=round(p50, 2), p99_late_s=round(p99, 2)))


if __name__ == "__main__":
    asyncio.run(main())
