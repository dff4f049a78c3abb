"""Writes planned in Python and sent to the database in one go.

A burst of reports is a few thousand rows across half a dozen tables. Through SQLAlchemy each row costs a
parameter dict, its bind processing and, on SQLite, one hop to aiosqlite's thread per statement: more than
parsing the report. Here the rows become plain tuples once (each column's own bind processor, so the
stored values are the ones the ORM would store), ids are reserved up front so that dependent rows can name
their parents, and then:
- SQLite: every statement runs in one call on aiosqlite's thread (one hop), with the driver's executemany;
- PostgreSQL: COPY for inserts, executemany for the rest.
All in the caller's transaction. An id reserved on SQLite is the table's largest plus one: SQLite is the
single-process default, and the primary key would refuse a row that another writer took meanwhile (the
transaction then fails whole)."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement

from bot.clock import TZ
from models.types import LocalTime


@dataclass
class Raw:
    """A Core statement with named bind parameters, compiled once per dialect into driver SQL with its
    positional parameter order and processors."""

    stmt: ClauseElement
    # PostgreSQL: the whole of an executemany as one set-based statement (a row at a time, the server parses,
    # plans and runs each): its SQL, taking one array per named parameter, $1 the first name's values
    pg_many: tuple[str, tuple[str, ...]] | None = None
    _compiled: dict[str, tuple[str, list[str], list[Callable[[Any], Any] | None]]] = field(default_factory=dict)
    _fixed: dict[str, Any] = field(default_factory=dict)  # values the statement carries (`.values(active=False)`)
    _binds: dict[str, Any] = field(default_factory=dict)

    def compiled(self, dialect: Any) -> tuple[str, list[str], list[Callable[[Any], Any] | None]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            c = self.stmt.compile(dialect=dialect)
            names = list(c.positiontup or ())
            procs = [_bind(c.binds[n].type, dialect) for n in names]
            self._fixed.update({n: c.binds[n].value for n in names if not c.binds[n].required})
            self._binds.update({n: c.binds[n] for n in names})
            found = self._compiled[dialect.name] = (str(c), names, procs)
        return found

    def _value(self, name: str, params: dict[str, Any]) -> Any:
        return params[name] if name in params or name not in self._fixed else self._fixed[name]

    def args(self, dialect: Any, params: dict[str, Any]) -> tuple[Any, ...]:
        _, names, procs = self.compiled(dialect)
        return tuple([(p(v) if p else v) for v, p in zip([self._value(n, params) for n in names], procs, strict=True)])

    def arrays(self, dialect: Any, params: Sequence[dict[str, Any]]) -> list[list[Any]]:
        """PostgreSQL: the arguments of `pg_many` for these runs, one array per named parameter."""
        return self.columns(dialect, [self.args(dialect, d) for d in params])

    def columns(self, dialect: Any, rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
        """`pg_many`'s arguments from runs' arguments as `args` gives them (in the statement's own order)."""
        assert self.pg_many is not None
        order = self.compiled(dialect)[1]
        return [[row[i] for row in rows] for i in [order.index(n) for n in self.pg_many[1]]]

    def sqlite_query(self, dialect: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and arguments of one run on SQLite, an expanding `IN` list spelled out (`?, ?, ?`)."""
        sql, names, procs = self.compiled(dialect)
        args: list[Any] = []
        for n, proc in zip(names, procs, strict=True):
            value = self._value(n, params)
            if self._binds[n].expanding:
                sql = sql.replace(f"__[POSTCOMPILE_{n}]", ", ".join("?" * len(value)) or "NULL", 1)
                args += [proc(v) if proc else v for v in value]
            else:
                args.append(proc(value) if proc else value)
        return sql, args


def _bind(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """A type's bind processor as SQLAlchemy would run it. SQLite's dates and times are the dialect's own
    types (the generic ones have none); for PostgreSQL the generic one gives what asyncpg's COPY takes."""
    if dialect.name != "sqlite":
        proc = type_.bind_processor(dialect)
        fast = _PG_FAST.get(type(type_))
    else:
        proc = type_.dialect_impl(dialect).bind_processor(dialect)
        fast = _SQLITE_FAST.get(type(type_))
    if fast is not None:
        return fast
    return _empty_json(proc) if proc is not None and isinstance(type_, JSON) else proc


def _local_text(v: datetime | None) -> str | None:
    if v is None:
        return None
    if v.tzinfo is TZ:  # the clock's own: the local text is the first 26 characters (no "+08:00")
        return v.isoformat(" ", "microseconds")[:26]
    return (v.astimezone(TZ).replace(tzinfo=None) if v.tzinfo else v).isoformat(" ", "microseconds")


def _local_naive(v: datetime | None) -> datetime | None:
    if v is None or v.tzinfo is None:
        return v
    return (v if v.tzinfo is TZ else v.astimezone(TZ)).replace(tzinfo=None)


def _empty_json(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Most JSON values of a burst are empty lists (no attachments, no problems): their text without the
    encoder (the same text it writes)."""
    def bind(v: Any) -> Any:
        if not v and type(v) in _EMPTY:
            return _EMPTY[type(v)]
        return proc(v)
    return bind


_EMPTY = {list: "[]", dict: "{}"}

# The same values SQLAlchemy's types give (`tests/test_bulk.py` compares them), by the C methods of date and
# datetime: a burst converts tens of thousands of these, at a third of the cost
_SQLITE_FAST: dict[type, Callable[[Any], Any]] = {
    LocalTime: _local_text,
    Date: lambda v: None if v is None else v.isoformat(),
    DateTime: lambda v: None if v is None else v.isoformat(" ", "microseconds"),
}
_PG_FAST: dict[type, Callable[[Any], Any]] = {LocalTime: _local_naive}


def _table(table: Any) -> Table:
    return getattr(table, "__table__", table)


class _InsertPlan:
    """How rows with these keys go into a table: the columns (the keys, then those the rows leave to their
    Python-side defaults, which the ORM would apply and the driver does not), the SQL, and the conversions.
    Values are taken and converted column by column: only columns with a bind processor cost Python per value."""

    def __init__(self, t: Table, given: tuple[str, ...], dialect: Any) -> None:
        self.table = t
        defaults = [c for c in t.c if c.name not in given and c.default is not None]
        self.cols = [*given, *(c.name for c in defaults)]
        self._get = itemgetter(*given) if len(given) > 1 else (lambda r, k=given[0]: (r[k],))
        self._procs = [(i, p) for i, k in enumerate(given) if (p := _bind(t.c[k].type, dialect)) is not None]
        fixed = []
        for c in defaults:  # one value for every row: a default's value is the same, or a fresh empty list or dict
            p, value = _bind(c.type, dialect), c.default.arg(None) if c.default.is_callable else c.default.arg
            fixed.append(p(value) if p else value)
        self._fixed = tuple(fixed)
        q = dialect.identifier_preparer.quote
        self.sql = (f"INSERT INTO {q(t.name)} ({', '.join(q(c) for c in self.cols)}) "
                    f"VALUES ({', '.join('?' * len(self.cols))})")  # SQLite's style; PostgreSQL copies

    @classmethod
    def of(cls, t: Table, given: tuple[str, ...], dialect: Any) -> _InsertPlan:
        cache = t.info.setdefault("bulk_inserts", {})  # kept with the table: built once per set of keys
        plan = cache.get((dialect.name, given))
        if plan is None:
            plan = cache[(dialect.name, given)] = cls(t, given, dialect)
        return plan

    def tuples(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        columns = list(zip(*map(self._get, rows), strict=True))
        for i, p in self._procs:
            columns[i] = tuple(map(p, columns[i]))
        fixed = self._fixed
        return [row + fixed for row in zip(*columns, strict=True)] if fixed else list(zip(*columns, strict=True))


class Writes:
    """Statements queued in order, then sent by `flush()`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self._steps: list[tuple[str, Any, list[str], list[tuple[Any, ...]]]] = []  # kind, what, columns, rows

    def insert(self, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        """Rows of one table, all with the same keys (ids reserved by `reserve_ids`, or left to the database)."""
        if rows:
            plan = _InsertPlan.of(_table(table), tuple(rows[0]), self.dialect)
            self._steps.append(("insert", plan, plan.cols, plan.tuples(rows)))

    def run(self, stmt: Raw, params: Sequence[dict[str, Any]]) -> None:
        """Any statement with named bind parameters, once per dict (an executemany)."""
        if not params:
            return
        kind = "many" if stmt.pg_many is not None and self.dialect.name != "sqlite" else "run"
        self._steps.append((kind, stmt, [], [stmt.args(self.dialect, d) for d in params]))

    async def flush(self) -> None:
        steps, self._steps = self._steps, []
        if not steps:
            return
        try:
            await self._send(steps)
        except Exception as exc:  # the driver's own error: as SQLAlchemy would raise it, for the callers' handlers
            if isinstance(exc, sqlite3.IntegrityError) or type(exc).__name__.endswith(("ViolationError", "IntegrityError")):
                raise IntegrityError("bulk write", None, exc) from exc
            raise

    async def _send(self, steps: list[tuple[str, Any, list[str], list[tuple[Any, ...]]]]) -> None:
        raw = await self.conn.get_raw_connection()
        driver = raw.driver_connection
        if self.dialect.name == "sqlite":
            work = [(what.sql if kind == "insert" else what.compiled(self.dialect)[0], rows)
                    for kind, what, _, rows in steps]

            def run_all() -> None:
                db = driver._conn  # the sqlite3 connection, used on its own thread (aiosqlite's `_execute`)
                for sql, rows in work:
                    db.executemany(sql, rows)

            await driver._execute(run_all)
            return
        if not driver.is_in_transaction():  # COPY outside the caller's transaction would commit on its own
            await self.conn.exec_driver_sql("SELECT 1")  # SQLAlchemy begins it with its first statement
        for kind, what, cols, rows in steps:
            if kind == "insert":
                await driver.copy_records_to_table(what.table.name, records=rows, columns=cols)  # in the transaction
            elif kind == "many":
                await driver.execute(what.pg_many[0], *what.columns(self.dialect, rows))
            else:
                await driver.executemany(what.compiled(self.dialect)[0], rows)


async def reserve_ids(conn: AsyncConnection, wanted: dict[Any, int]) -> dict[str, list[int]]:
    """`wanted[table]` new ids per table, by table name, in one query. PostgreSQL: from each table's sequence.
    SQLite: after the largest id (see the module's note)."""
    wanted = {_table(t): n for t, n in wanted.items() if n > 0}
    if not wanted:
        return {}
    if conn.dialect.name == "sqlite":
        tables = list(wanted)
        return reserved(tables, (await conn.execute(max_ids(tables).stmt)).one(), list(wanted.values()))
    driver = (await conn.get_raw_connection()).driver_connection  # sequences stand outside any transaction
    rows = await driver.fetch(_RESERVE, [t.name for t in wanted], list(wanted.values()))
    return {name: ids for name, ids in rows}


# each table's ids as one array (a row per id cost more to receive than to draw); the sequence looked up
# once per table (OFFSET 0: else the subquery is flattened and the lookup runs again for every id, which
# took six times as long as drawing the ids)
_RESERVE = ("SELECT v.t, array(SELECT nextval(s.seq) FROM generate_series(1, v.n)) "
            "FROM unnest($1::text[], $2::int[]) AS v(t, n), "
            "LATERAL (SELECT pg_get_serial_sequence(v.t, 'id')::regclass AS seq OFFSET 0) AS s")


async def read_all(conn: AsyncConnection, reads: Sequence[tuple[Raw, dict[str, Any]]]) -> list[list[tuple[Any, ...]]]:
    """Several selects, their rows as tuples of Python values. On SQLite in one hop to its thread: a batch
    that waited on several hops in turn waited each time for the whole event loop to come round."""
    if conn.dialect.name != "sqlite":
        return [[tuple(r) for r in (await conn.execute(raw.stmt, params)).all()] for raw, params in reads]
    dialect = conn.dialect
    queries = [raw.sqlite_query(dialect, params) for raw, params in reads]
    driver = (await conn.get_raw_connection()).driver_connection

    def run_all() -> list[list[tuple[Any, ...]]]:
        db = driver._conn
        return [db.execute(sql, args).fetchall() for sql, args in queries]

    out = []
    for (raw, _), rows in zip(reads, await driver._execute(run_all), strict=True):
        procs = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in raw.stmt.selected_columns]
        out.append([tuple(p(v) if p else v for v, p in zip(r, procs, strict=True)) for r in rows])
    return out


def max_ids(tables: Sequence[Any]) -> Raw:
    """The largest id of each table, in one row (SQLite's reservation: see `reserve_ids`)."""
    return Raw(select(*[select(func.max(_table(t).c.id)).scalar_subquery() for t in tables]))


def reserved(tables: Sequence[Any], largest: Sequence[int | None], wanted: Sequence[int]) -> dict[str, list[int]]:
    return {_table(t).name: list(range((m or 0) + 1, (m or 0) + 1 + n)) for t, m, n in zip(tables, largest, wanted, strict=True)}
