"""Upgrading a database that has rows: the reports' foreign keys go (a7b8c9d0e1f2) with every row kept, and on
SQLite an upgrade that fails halfway leaves the database as it was."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from models.db import make_engine, migrate
from tests.conftest import both_backends

BEFORE = "e5f1a2b3c4d6"  # the revision before the hazard indexes and the keys changed
ROWS = [
    "INSERT INTO inspection_reports (id, report_date, round, posted_by, posted_at, source, late, corrected, active, "
    "problems, status) VALUES (1, '2026-03-10', 1, 'ltq-bs', '2026-03-10 10:00:00', 'text', false, false, true, "
    "'[]', 'registered')",
    "INSERT INTO inspection_records (id, report_id, seq, enterprise, domain, inspectors, hazard_count) "
    "VALUES (1, 1, 1, '吉林市丰源化工有限公司', '危化品', '[]', 1)",
    "INSERT INTO hazards (id, report_id, record_id, enterprise, domain, text, found_on, status, created_at) "
    "VALUES (1, 1, 1, '吉林市丰源化工有限公司', '危化品', '罐区无围堰', '2026-03-10', 'open', '2026-03-10 10:00:00')",
    "INSERT INTO hazard_events (hazard_id, at, actor, action) VALUES (1, '2026-03-10 10:00:00', 'ltq-bs', 'found')",
]
COUNTS = "SELECT (SELECT count(*) FROM inspection_reports), (SELECT count(*) FROM inspection_records), " \
         "(SELECT count(*) FROM hazards), (SELECT count(*) FROM hazard_events)"


async def _at_before_with_rows(url: str) -> object:
    engine = make_engine(url)
    await migrate(engine, BEFORE)
    async with engine.begin() as conn:
        for sql in ROWS:
            await conn.execute(text(sql))
    return engine


@both_backends
async def test_an_upgrade_keeps_the_rows_and_drops_the_keys(db_url: str) -> None:
    engine = await _at_before_with_rows(db_url)
    await migrate(engine)
    async with engine.connect() as conn:
        assert tuple((await conn.execute(text(COUNTS))).one()) == (1, 1, 1, 1)
        if engine.dialect.name == "sqlite":
            keys = [t for t in ("inspection_records", "hazards", "hazard_events")
                    if (await conn.execute(text(f"PRAGMA foreign_key_list({t})"))).all()]
        else:
            keys = [r[0] for r in (await conn.execute(text(
                "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"))).all()
                if r[0] in ("inspection_records", "hazards", "hazard_events")]
        assert keys == []
    await engine.dispose()


async def test_a_failed_sqlite_upgrade_changes_nothing(db_url: str) -> None:
    engine = await _at_before_with_rows(db_url)
    async with engine.begin() as conn:  # the last step's scratch table cannot be made: the upgrade fails there
        await conn.execute(text("CREATE VIEW _alembic_tmp_hazard_events AS SELECT 1 AS x"))
    with pytest.raises(Exception, match="_alembic_tmp_hazard_events"):
        await migrate(engine)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == BEFORE
        indexes = [r[1] for r in (await conn.execute(text("PRAGMA index_list(hazards)"))).all()]
        assert "ix_hazards_record_id" in indexes  # the earlier steps of the same upgrade were undone too
        assert (await conn.execute(text("PRAGMA foreign_key_list(inspection_records)"))).all()
        assert tuple((await conn.execute(text(COUNTS))).one()) == (1, 1, 1, 1)
    await engine.dispose()
