"""Autogenerate a migration against a scratch SQLite database: python scripts/new_migration.py "message"."""
from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command  # noqa: E402

from models.db import alembic_config, make_engine, migrate  # noqa: E402


async def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/scratch.db")
        await migrate(engine)

        def run(sync_conn: Any) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            command.revision(cfg, message=message, autogenerate=True)

        async with engine.begin() as conn:
            await conn.run_sync(run)
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
