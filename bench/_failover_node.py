"""One bot process for bench/failover.py: the real app (leases, scheduler, outbox sender) on PostgreSQL and
Redis, with transports that record every delivery in Redis so the benchmark can count losses and duplicates."""
from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from bot.app import create_app
from bot.events import InboundMessage, OutboundMessage
from bot.logging import setup_logging
from bot.settings import Settings


def delivery_key(account: str, chat_id: str, text: str) -> str:
    return f"{account}|{chat_id}|{hashlib.sha1(text.encode()).hexdigest()[:16]}"


class RecordingTransport:
    name = "sim"

    def __init__(self, account: str, redis: Redis, node: str) -> None:
        self.account, self.redis, self.node = account, redis, node

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]:
        return {"transport": self.name, "account": self.account, "state": "running"}

    async def events(self) -> AsyncIterator[InboundMessage]:
        if False:
            yield  # type: ignore[unreachable]

    async def send(self, msg: OutboundMessage) -> str:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby("delivered", delivery_key(msg.account, msg.chat_id, msg.text), 1)
        pipe.incr(f"count:{self.node}")
        pipe.set(f"first:{self.node}", time.time(), nx=True)
        await pipe.execute()
        return f"{self.node}-{time.monotonic_ns()}"


async def main() -> None:
    import logging

    setup_logging(level=logging.WARNING)
    node = os.environ["NODE"]
    settings = Settings.from_env(os.environ, scheduler=True)
    redis = Redis.from_url(os.environ["REDIS_URL"])
    accounts = os.environ["ACCOUNTS"].split(",")
    app = create_app(settings, transports=[lambda a: [RecordingTransport(acct, redis, node) for acct in accounts]])
    await app.start()
    print("READY", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
