"""Two bot processes on PostgreSQL and Redis; a red warning to 20,000 people in 1,810 groups (21,810
messages over 10 accounts), and `kill -9` of the process that holds the leases half-way through delivery.
The survivor must take over the accounts and the scheduler: how long until it delivers, how many messages
are lost, how many delivered twice (per account), and whether any escalation step ran twice or not at all.

Limits named: takeover_s <= 10, lost = 0, dup_max <= 1 (per account), steps_twice = 0, steps_skipped = 0."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("BENCH_RATE", "100000")  # the sender's own pace, not the rate limit, sets the speed
from _common import figures, quiet, scratch_settings, tmpdir
from _failover_node import delivery_key
from fanout import ACCOUNTS, world
from sqlmodel import col, func, select

from bot.app import create_app
from bot.clock import SystemClock
from handlers.warnings.issue import Order, new_warning
from models.core import OutboxEntry
from models.db import transaction
from models.warnings import CallRecord, EscalationStep
from tests.services import postgres, redis_server

KILL_AFTER = int(os.environ.get("BENCH_KILL_AFTER", "4000"))  # deliveries by the first process
DONE_WITHIN_S = float(os.environ.get("BENCH_DONE_WITHIN_S", "900"))
NODE = Path(__file__).resolve().parent / "_failover_node.py"


def start_node(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("w") as err:  # a file, not a pipe: a full pipe would stall the node
        proc = subprocess.Popen([sys.executable, str(NODE)], env={**env, "NODE": name}, stdout=subprocess.PIPE,
                                stderr=err, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if "READY" not in line:
        raise SystemExit(f"node {name} did not start: {line}{log.read_text()[-3000:]}")
    return proc


async def main() -> None:
    quiet()
    from redis.asyncio import Redis

    with tmpdir() as tmp, postgres() as db_url, redis_server() as redis_url:
        config = world(Path(tmp))
        settings = scratch_settings(tmp, db_url, config_path=config)
        app = create_app(settings, clock=SystemClock())
        await app.prepare()  # migrations once, before the two processes start
        accounts = sorted({f"acct{i}" for i in range(ACCOUNTS)} | {"default"})  # the duty officer's is default
        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "BOT_CONFIG": str(config),
               "BOT_VAR_DIR": str(Path(tmp) / "var"), "ACCOUNTS": ",".join(accounts)}
        redis = Redis.from_url(redis_url)
        first = start_node("a", env, Path(tmp) / "a.log")
        await asyncio.sleep(3)  # it takes every lease
        second = start_node("b", env, Path(tmp) / "b.log")
        try:
            async with transaction(app.sessions) as session:  # the durable issue job, as POST /api/warnings leaves it
                w = new_warning(app, Order("红色", "森林火险预警", [r.key for r in app.regions.cities()], "高火险", None),
                                "duty", app.clock.now(), None, None)
                w.status = "issuing"
                session.add(w)
            t0 = time.time()
            while int(await redis.get("count:a") or 0) < KILL_AFTER:
                if first.poll() is not None:
                    raise SystemExit(f"node a exited: {(Path(tmp) / 'a.log').read_text()[-3000:]}")
                if time.time() - t0 > DONE_WITHIN_S:
                    raise SystemExit("node a delivered too little")
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            killed_at = time.time()
            delivered_a = int(await redis.get("count:a") or 0)
            print(f"kill -9 of the holder after {delivered_a} deliveries ({killed_at - t0:.1f}s after the order)",
                  flush=True)
            while True:
                async with app.sessions() as s:
                    left = (await s.exec(select(func.count()).select_from(OutboxEntry).where(
                        col(OutboxEntry.status).in_(["pending", "sending"])))).one()
                    pending_steps = (await s.exec(select(func.count()).select_from(EscalationStep).where(
                        EscalationStep.status == "pending", col(EscalationStep.obligation_id).is_not(None)))).one()
                if (left == 0 and pending_steps == 0) or time.time() - killed_at > DONE_WITHIN_S:
                    break
                await asyncio.sleep(1)
            first_b = float(await redis.get("first:b") or "nan")
            takeover_s = first_b - killed_at
            counts = {k.decode(): int(v) for k, v in (await redis.hgetall("delivered")).items()}
            async with app.sessions() as s:
                rows = (await s.exec(select(OutboxEntry.account, OutboxEntry.chat_id, OutboxEntry.text,
                                            OutboxEntry.status))).all()
                records = (await s.exec(select(CallRecord.obligation_id, func.count()).where(
                    col(CallRecord.text).startswith("请以下同志立即回应")).group_by(CallRecord.obligation_id))).all()
                skipped = (await s.exec(select(func.count()).select_from(EscalationStep).where(
                    EscalationStep.status == "pending", col(EscalationStep.obligation_id).is_not(None)))).one()
                ran = (await s.exec(select(func.count()).select_from(EscalationStep).where(
                    EscalationStep.status == "done", col(EscalationStep.obligation_id).is_not(None)))).one()
        finally:
            for proc in (first, second):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            await redis.aclose()
            await app.stop()
    lost = 0
    dups: dict[str, int] = defaultdict(int)
    for account, chat_id, text, _status in rows:
        n = counts.get(delivery_key(account, chat_id, text), 0)
        lost += n == 0
        dups[account] += max(n - 1, 0)
    dup_max = max(dups.values(), default=0)
    twice = sum(1 for _, n in records if n > 1)
    print(f"{len(rows)} messages queued; the survivor delivered its first {takeover_s:.1f}s after the kill "
          f"(limit 10s); lost {lost}; duplicates per account max {dup_max} (limit 1), all {sum(dups.values())}")
    print(f"escalation: {ran} per-person steps ran; {twice} re-mentioned twice; {skipped} never ran")
    print("RESULT " + figures(takeover_s=round(takeover_s, 1), lost=lost, dup_max=dup_max, steps_twice=twice,
                              steps_skipped=skipped))


if __name__ == "__main__":
    asyncio.run(main())
