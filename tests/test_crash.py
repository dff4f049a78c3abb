"""kill -9 during a burst of answers: every answer the simulator acknowledged is counted after the restart,
and nobody who answered is chased. The bot runs as a real subprocess (`python -m bot run --demo`)."""
from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp

from bot.app import create_app
from bot.clock import TZ, FakeClock
from bot.settings import ROOT, Settings
from tests.harness import Harness
from tests.services import free_port

TOKEN = "crash-test-token"
ROUNDS = 8


@contextmanager
def bot_process(tmp: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}", "BOT_VAR_DIR": str(tmp / "var"),
           "BOT_PORT": str(port), "BOT_API_TOKEN": TOKEN, "BOT_API_TOKEN_OWNER": "liwd", "BOT_TRANSPORT": "sim"}
    env.pop("REDIS_URL", None)
    log = (tmp / f"bot-{port}.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--demo"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log.close()


async def wait_up(http: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        assert proc.poll() is None, "the bot exited"
        try:
            async with http.get(base + "/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not come up")


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def test_kill_9_during_a_burst_of_answers(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    accepted: set[str] = set()
    async with aiohttp.ClientSession() as http:
        with bot_process(tmp_path, port) as proc:
            await wait_up(http, base, proc)
            body = {"level": "红色", "type": "暴雨预警", "regions": ["全省"], "content": "今夜大暴雨", "deadline_min": 5}
            async with http.post(base + "/api/warnings", json=body, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 202, await r.text()
                wid = (await r.json())["id"]
            for _ in range(600):  # the fan-out runs beside the server
                if query(db, f"select status from warnings where id = {wid}")[0][0] == "active":
                    break
                await asyncio.sleep(0.05)
            people = [p for (p,) in query(db, f"select person_id from obligations where warning_id = {wid}")]
            assert len(people) > 40

            # each person's 收到 sits somewhere in a burst of chatter from everyone, 16 requests in flight
            burst = [(p, "收到" if r == i % ROUNDS else f"第{r}条闲聊，今天风很大") for r in range(ROUNDS)
                     for i, p in enumerate(people)]
            done = 0
            half = asyncio.Event()
            sem = asyncio.Semaphore(16)

            async def send(pid: str, text: str) -> None:
                nonlocal done
                async with sem:
                    try:
                        async with http.post(base + "/sim/api/send",
                                             json={"chat_id": f"dm:{pid}", "sender_id": pid, "text": text}) as r:
                            if r.status == 200:
                                done += 1
                                if done >= len(burst) // 2:
                                    half.set()
                                if text == "收到":
                                    accepted.add(pid)
                    except aiohttp.ClientError:
                        pass  # not acknowledged: the sender would send again

            tasks = [asyncio.create_task(send(p, t)) for p, t in burst]
            await half.wait()
            os.kill(proc.pid, signal.SIGKILL)  # mid-burst
            await asyncio.gather(*tasks)
        assert 0 < len(accepted) < len(people)
        raw_pending = query(db, "select count(*) from raw_messages where outcome = 'pending'")[0][0]

        with bot_process(tmp_path, port) as proc:  # the restart handles what was accepted but not finished
            await wait_up(http, base, proc)
            for _ in range(300):
                if not query(db, "select count(*) from raw_messages where outcome = 'pending'")[0][0]:
                    break
                await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    acked = {p for (p,) in query(db, f"select person_id from obligations where warning_id = {wid} and state = 'acked'")}
    assert accepted <= acked, (len(accepted - acked), raw_pending)
    issued = datetime.fromisoformat(query(db, f"select issued_at from warnings where id = {wid}")[0][0]).replace(tzinfo=TZ)

    # then the escalation runs past the deadline: only the silent are chased
    clock = FakeClock(issued + timedelta(minutes=1))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{db}", config_path=ROOT / "config" / "demo.yaml",
                        var_dir=tmp_path / "var", scheduler=False)
    app = create_app(settings, clock=clock)
    await app.start(background=False)
    try:
        await Harness(app, clock).tick(minutes=6)
        chased = {m.chat_id for m in app.sim.sent if "【催叫】" in m.text}
        print("pending at the kill:", raw_pending, "accepted answers:", len(accepted), "of", len(people))
        assert chased and not chased & {f"dm:{p}" for p in acked}
    finally:
        await app.stop()
