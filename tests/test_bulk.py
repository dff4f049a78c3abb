"""Planned writes (`models.bulk`) store what the ORM would store, in the caller's transaction."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.app import App
from bot.clock import TZ
from models.bulk import Raw, Writes, reserve_ids
from models.core import RawMessage
from models.db import transaction
from tests.conftest import both_backends

T = RawMessage.__table__
_MARK = Raw(update(T).where(T.c.id == bindparam("rid")).values(outcome=bindparam("out"), error=None))


def _row(n: int) -> dict:
    # keys in another order than the table's, and leaving out columns with defaults
    return {"text": f"第{n}条", "message_id": f"m{n}", "transport": "sim", "chat_id": "g-jl", "sender_id": "u1",
            "received_at": datetime(2026, 3, 16, 9, n, tzinfo=TZ), "meta": {"n": n}}


@both_backends
async def test_rows_are_stored_as_the_orm_would_with_reserved_ids(app: App) -> None:
    async with transaction(app.sessions) as session:
        conn = await session.connection()
        ids = (await reserve_ids(conn, {RawMessage: 3}))["raw_messages"]
        writes = Writes(conn)
        writes.insert(RawMessage, [{"id": i, **_row(n)} for n, i in enumerate(ids, 1)])
        writes.run(_MARK, [{"rid": ids[1], "out": "ignored"}])
        await writes.flush()
    async with app.sessions() as session:
        rows = (await session.exec(select(RawMessage).order_by(col(RawMessage.id)))).scalars().all()
    assert [r.id for r in rows] == ids and len(set(ids)) == 3
    assert [r.outcome for r in rows] == ["pending", "ignored", "pending"]  # the default, and the update
    first = rows[0]
    assert (first.account, first.is_group, first.attachments, first.meta) == ("default", True, [], {"n": 1})
    assert first.received_at == datetime(2026, 3, 16, 9, 1, tzinfo=TZ)
    async with transaction(app.sessions) as session:  # the next reservation follows
        more = (await reserve_ids(await session.connection(), {RawMessage: 2}))["raw_messages"]
    assert min(more) > max(ids)


@both_backends
async def test_a_failed_transaction_keeps_none_of_the_planned_rows(app: App) -> None:
    with pytest.raises(RuntimeError):
        async with transaction(app.sessions) as session:
            conn = await session.connection()
            ids = (await reserve_ids(conn, {RawMessage: 2}))["raw_messages"]
            writes = Writes(conn)
            writes.insert(RawMessage, [{"id": i, **_row(n)} for n, i in enumerate(ids, 1)])
            await writes.flush()
            raise RuntimeError("the batch fails after its writes")
    async with app.sessions() as session:
        assert (await session.exec(select(RawMessage))).all() == []


@both_backends
async def test_an_id_taken_meanwhile_fails_the_write(app: App) -> None:
    async with transaction(app.sessions) as session:
        ids = (await reserve_ids(await session.connection(), {RawMessage: 1}))["raw_messages"]
    async with transaction(app.sessions) as session:  # someone else writes first, with that id
        session.add(RawMessage(id=ids[0], **_row(9)))
    with pytest.raises(IntegrityError):
        async with transaction(app.sessions) as session:
            writes = Writes(await session.connection())
            writes.insert(RawMessage, [{"id": ids[0], **_row(1)}])
            await writes.flush()


@both_backends
async def test_values_are_stored_in_the_same_form_as_the_orms(app: App) -> None:
    """Compared as the database holds them: SQLite keeps dates and times as text, and a query compares text."""
    async with transaction(app.sessions) as session:
        session.add(RawMessage(**{**_row(1), "message_id": "orm"}))
    async with transaction(app.sessions) as session:
        conn = await session.connection()
        ids = (await reserve_ids(conn, {RawMessage: 1}))["raw_messages"]
        writes = Writes(conn)
        writes.insert(RawMessage, [{"id": ids[0], **_row(1)}])
        await writes.flush()
    async with app.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT CAST(received_at AS TEXT), CAST(is_group AS TEXT), CAST(meta AS TEXT) FROM raw_messages ORDER BY id"))).all()
    assert rows[0] == rows[1]


def test_fast_conversions_write_what_sqlalchemy_writes() -> None:
    from datetime import UTC, date, timedelta, timezone

    from sqlalchemy import JSON, Date, DateTime
    from sqlalchemy.dialects import postgresql, sqlite

    from models.bulk import _bind
    from models.types import LocalTime

    dialect = sqlite.dialect()
    samples = {
        LocalTime(): [datetime(2026, 3, 16, 9, 0, tzinfo=TZ), datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=TZ),
                      datetime(2026, 3, 16, 1, 2, 3, 4), None],
        Date(): [date(2026, 3, 16), date(2026, 1, 1), None],
        DateTime(): [datetime(2026, 3, 16, 9, 0), datetime(2026, 3, 16, 9, 0, 0, 5), None],
    }
    for type_, values in samples.items():
        theirs = type_.dialect_impl(dialect).bind_processor(dialect)
        ours = _bind(type_, dialect)
        assert ours is not None and theirs is not None
        assert [ours(v) for v in values] == [theirs(v) for v in values], type_
    pg = postgresql.asyncpg.dialect()
    utc = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
    times = [datetime(2026, 3, 16, 9, 0, 0, 7, tzinfo=TZ), utc, utc.astimezone(timezone(timedelta(hours=-5))),
             datetime(2026, 3, 16, 1, 2, 3), None]
    docs = [[], {}, None, ["张伟", "李强"], {"mentions": [], "to_bot": False}, [{"id": "a", "name": "魏德胜"}], "", 0]
    for d, type_, values in ((pg, LocalTime(), times), (pg, JSON(), docs), (dialect, JSON(), docs)):
        theirs = type_.dialect_impl(d).bind_processor(d) if d is dialect else type_.bind_processor(d)
        ours = _bind(type_, d)
        assert ours is not None and theirs is not None
        assert [ours(v) for v in values] == [theirs(v) for v in values], (d.name, type_)
