"""A warning to 1,810 groups and 20,000 named people, through a simulated transport that enforces a
rate per account, over several accounts. Delivery runs on a fake clock, so the time to deliver is
simulated time and is compared with the floor the rate limits allow. SQLite, then PostgreSQL, each in its
own process (`--db sqlite|postgres` for one).

Limit named: ratio <= 1.2 (within a fifth of the floor); cpu_s and peak_mb are reported."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import backends, each_backend_in_a_child, fake_clock, figures, quiet, scratch_settings, tmpdir
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.events import InboundMessage, OutboundMessage
from bot.settings import ROOT
from bot.web.app import create_web

GROUPS = int(os.environ.get("BENCH_GROUPS", "1810"))
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "20000"))
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "10"))
RATE = float(os.environ.get("BENCH_RATE", "60"))  # messages per minute per account
BURST = 20
LIMIT = 1.2
QUEUE_ONLY = os.environ.get("BENCH_QUEUE_ONLY") == "1"  # stop once queued (delivery is the sender's bench)


class RateCheckingTransport:
    """Counts deliveries and fails the run if an account ever exceeds its rate."""

    name = "sim"

    def __init__(self, account: str, clock: Any) -> None:
        self.account = account
        self.clock = clock
        self.sent = 0
        self.window: deque[float] = deque()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]:
        return {"transport": self.name, "account": self.account, "state": "running"}

    async def events(self) -> AsyncIterator[InboundMessage]:
        if False:
            yield  # type: ignore[unreachable]

    async def send(self, msg: OutboundMessage) -> str:
        now = self.clock.now().timestamp()
        self.window.append(now)
        while self.window and self.window[0] <= now - 60:
            self.window.popleft()
        if len(self.window) > RATE + BURST:
            raise AssertionError(f"account {self.account} exceeded {RATE}/min")
        self.sent += 1
        return f"{self.account}-{self.sent}"


def world(tmp: Path) -> Path:
    from bot.regions import RegionTree

    tree = RegionTree.load(ROOT / "config" / "regions.yaml")
    counties = [r.key for r in tree.by_key.values() if r.level == "county"]
    groups = [{"id": f"fire{i}", "name": f"森林防火群{i}", "role": "region", "region": counties[i % len(counties)],
               "ids": {"sim": f"fire{i}@chatroom"}, "account": f"acct{i % ACCOUNTS}"} for i in range(GROUPS)]
    people = [{"id": f"p{i}", "name": f"责任人{i}", "roles": ["responsible"], "account": f"acct{i % ACCOUNTS}",
               "responsible": [{"region": groups[i % GROUPS]["region"], "title": "包保责任人", "group": f"fire{i % GROUPS}"}],
               "ids": {"sim": f"wx{i}"}} for i in range(PEOPLE)]
    people.append({"id": "duty", "name": "值班员", "roles": ["duty_officer"], "ids": {"sim": "duty"}})
    cfg = {"regions_file": "regions.yaml", "units": [], "people": people, "groups": groups,
           "outbox": {"rate_per_minute": RATE, "burst": BURST, "max_chars": 1500},
           "warnings": {"titles": ["包保责任人"], "levels": {"红色": {"deadline_min": 5, "steps": [
               {"after_min": 2, "action": "remention"}]}}}}
    for name in ("regions.yaml", "templates.yaml"):
        shutil.copy(ROOT / "config" / name, tmp / name)
    path = tmp / "fanout.json"
    path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")  # JSON is YAML, and cheap to write
    return path


async def main() -> None:
    quiet()
    db_url = None
    with contextlib.ExitStack() as stack:
        if backends() == ["postgres"]:
            from tests.services import postgres

            db_url = stack.enter_context(postgres())
        await measure(db_url)


async def measure(db_url: str | None) -> None:
    with tmpdir() as tmp:
        clock = fake_clock()
        transports = {f"acct{i}": RateCheckingTransport(f"acct{i}", clock) for i in range(ACCOUNTS)}
        app = create_app(scratch_settings(tmp, db_url, config_path=world(Path(tmp)), api_token="bench",
                                         api_token_owner="duty"), clock=clock,
                         transports=[lambda a, t=t: t for t in transports.values()])
        await app.start(background=False)
        client = TestClient(TestServer(create_web(app)))
        await client.start_server()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        start: datetime = clock.now()
        # the way a meteorological feed issues it: POST /api/warnings answers, the issue job does the fan-out
        body = {"level": "红色", "type": "森林火险预警", "regions": [r.name for r in app.regions.cities()],
                "content": "高火险，严防死守", "issued_by": "duty"}
        r = await client.post("/api/warnings", json=body, headers={"Authorization": "Bearer bench"})
        answer = await r.json()
        api_s = time.perf_counter() - wall0
        assert r.status == 202, answer
        await asyncio.gather(*list(app.tasks))  # the spawned issue job
        issue_s = time.perf_counter() - wall0
        queue_cpu_s = time.process_time() - cpu0
        await client.close()
        async with app.sessions() as s:
            from sqlmodel import func, select

            from models.warnings import Obligation

            named = (await s.exec(select(func.count()).select_from(Obligation))).one()
        per_account: dict[str, int] = defaultdict(int)
        async with app.sessions() as s:
            from models.core import OutboxEntry

            for account, n in (await s.exec(select(OutboxEntry.account, func.count()).group_by(OutboxEntry.account))).all():
                per_account[account] = n
        total = sum(per_account.values())
        sender = app.outbox_sender
        if QUEUE_ONLY:  # the issue path alone: the API's answer, the bulk writes, the memory they take
            await app.stop()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{named} people named; {total} messages queued; POST answered in {api_s:.2f}s; queued in "
                  f"{issue_s:.2f}s ({queue_cpu_s:.2f}s CPU; goal <= 3s); peak RSS {peak:.0f} MB")
            print("RESULT " + figures(queued_s=round(issue_s, 2), queue_cpu_s=round(queue_cpu_s, 2),
                                      api_s=round(api_s, 2), peak_mb=round(peak)))
            return
        while True:
            await sender.deliver_due(batch=2000)
            if sum(t.sent for t in transports.values()) >= total:
                break
            clock.set(sender.next_due or clock.advance(seconds=1))
        simulated_s = (clock.now() - start).total_seconds()
        cpu_s = time.process_time() - cpu0
        wall_s = time.perf_counter() - wall0
        await app.stop()
    floor_s = max(max(n - BURST, 0) / (RATE / 60) for n in per_account.values())
    ratio = simulated_s / floor_s if floor_s else 1.0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{named} people named in {GROUPS} groups; {total} messages over {ACCOUNTS} accounts at {RATE:g}/min each")
    print(f"POST /api/warnings answered in {api_s:.2f}s (goal <= 3s)")
    print(f"queued in {issue_s:.2f}s ({queue_cpu_s:.2f}s CPU; goal <= 3s); delivered in {simulated_s / 60:.1f} simulated minutes; floor {floor_s / 60:.1f} minutes")
    print(f"ratio {ratio:.3f} (limit <= {LIMIT}); bot CPU {cpu_s:.1f}s (wall {wall_s:.1f}s); peak RSS {peak_mb:.0f} MB")
    print("RESULT " + figures(ratio=round(ratio, 3), cpu_s=round(cpu_s, 1), peak_mb=round(peak_mb),
                              queued_s=round(issue_s, 2), queue_cpu_s=round(queue_cpu_s, 2), api_s=round(api_s, 2)))


if __name__ == "__main__":
    if not each_backend_in_a_child(__file__):  # peak RSS is per process: one process per database
        asyncio.run(main())
