"""Reports by group commit: a re-import, or an 提级管理 day of many rounds, is thousands of reports in a burst.

A plain-text report posted in a group by someone who may report it takes this lane instead of the unit of
work; so does group chatter that no handler wants (not addressed to the bot, not an answer to a warning,
not a report), which is only stored with its outcome `ignored`. The reports that arrive while one batch commits form the next batch (no timer: batches grow with the
load). One transaction per batch stores the raw messages (or, when the transport's intake stored them
already, their outcomes), the reports, their records, hazards and first events, and queues the replies;
a message is answered only after that commit. Anything else (a command, an answer to a warning, an
attachment, a report the sender may not post, a text that needs escaping) goes down the normal chain,
which stays the reference for what a report means (`handlers.reports.handlers.report`). A batch that fails
sends each of its messages down the normal chain one by one, so a bad message never sinks the others."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select, update

from bot.config import Person
from bot.dispatch.intake import LONG_TEXT, raw_values, storable
from bot.events import InboundMessage, Mention
from bot.outbox import Outbox
from bot.scope import covers
from bot.text import clean, command_text
from handlers.daily.rounds import ACTIVE_ROUNDS, slots_of
from handlers.reports.bounded import read_result, text_to_read
from handlers.reports.handlers import future_date, is_supplement, may_report, reply_text, review_text
from handlers.reports.ingest import ACTIVE_REPORTS, Draft, place, resolve_unit, store_reports
from handlers.reports.parse import ParseResult
from handlers.reports.parse.classify import is_ack
from handlers.reports.workers import batch_job, off_loop, parse_each
from handlers.warnings.ack import _QUOTE, MEASURES, OPEN
from models.bulk import Raw, Writes, max_ids, read_all, reserve_ids, reserved
from models.core import OutboxEntry, RawMessage
from models.db import transaction
from models.reports import Hazard, InspectionRecord, InspectionReport
from models.warnings import Obligation, Warning

HANDLER = "reports.report"  # the name the normal chain records for the same handler


@dataclass
class Item:
    event: InboundMessage
    person: Person | None
    parsed: ParseResult | None  # None: chatter, stored as `ignored`
    raw_id: int | None  # stored already by the transport's intake: the batch sets its outcome
    done: asyncio.Future
    answer_states: tuple[str, ...] = ()  # it reads as an answer: an obligation in these states makes it one


_ob, _wt, _raw = Obligation.__table__, Warning.__table__, RawMessage.__table__
# `r.id = ANY($1)` as well as the join: the rows named are found by their index whatever the statistics say
# (with the join alone, while the table was small or its statistics behind, the planner read all of it to hash
# it: 8.6 ms for 500 rows of 8,300, 5.2 ms with it; on 300,000 rows both take the index)
_OUTCOME = Raw(update(_raw).where(_raw.c.id == bindparam("rid"))
               .values(outcome=bindparam("out"), handler=bindparam("h"), error=None),
               pg_many=("UPDATE raw_messages AS r SET outcome = v.out, handler = v.h, error = NULL "
                        "FROM unnest($1::int[], $2::text[], $3::text[]) AS v(rid, out, h) WHERE r.id = v.rid AND r.id = ANY($1)",
                        ("rid", "out", "h")))
_ANSWERABLE = Raw(select(_ob.c.person_id, _ob.c.state).join(_wt, _wt.c.id == _ob.c.warning_id)
               .where(_ob.c.person_id.in_(bindparam("people", expanding=True)),
                      _ob.c.state.in_((*OPEN, "acked", "responded")), _wt.c.status == "active"))
_ROUNDS = Raw(ACTIVE_ROUNDS)
_ID_TABLES = (RawMessage, InspectionReport, InspectionRecord, Hazard)  # the tables a batch reserves ids in
_MAX_IDS = max_ids(_ID_TABLES)
JOB_CHARS = 64_000  # text of one parse job of a burst: well within the time budget
NOT_MINE = ()  # may_take's answer for a message this lane leaves alone


def may_take(event: InboundMessage, bot_name: str) -> tuple[str, ...] | None:
    """Group text that no handler before the report one can want: not addressed to the bot, no quote, no
    attachment. None when it may be taken; for text that reads as an answer to a warning, the obligation
    states that would make it one (the ack filter's own tests: the batch runs its query); NOT_MINE else."""
    if not event.is_group or event.attachments or event.quote_id:
        return NOT_MINE
    if command_text(event, bot_name) is not None:
        return NOT_MINE
    text = re.sub(r"^@\S+\s*", "", clean(event.text).strip()).strip()
    if _QUOTE.search(text):
        return NOT_MINE
    if is_ack(text):
        return OPEN
    return (*OPEN, "acked", "responded") if MEASURES.search(text) else None


def takeable(event: InboundMessage, person: Person | None, data: dict[str, Any]) -> tuple[str, ...] | None:
    """`may_take`'s answer, and NOT_MINE for an answer from someone with a warning open (the ack lane's, or
    the normal chain's)."""
    states = may_take(event, data["cfg"].bot.name)
    if states and person is not None:
        acks = data.get("ack_batcher")
        if acks is not None and acks.index.has_open(person.id):
            return NOT_MINE
    return states


class Reader:
    """Texts parsed several at a time: one job (one hop to a parse worker process, or to the parse threads)
    for whatever is waiting, within the time budget; as many jobs at once as there are worker processes
    (the threads share one core: one job). Over the budget, or when a text breaks the parser, those
    messages go down the normal chain, which reads each alone within its own budget."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.waiting: list[tuple[str, datetime, asyncio.Future]] = []
        workers = getattr(app, "parse_workers", None)
        self._jobs = asyncio.Semaphore(max(1, workers.n if workers is not None else 1))

    async def parse(self, text: str, at: datetime) -> ParseResult | None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((text, at, done))
        async with self._jobs:
            if not done.done():
                job, self.waiting = self.waiting, []
                results: list[ParseResult | None] = [None] * len(job)
                try:
                    results = await self._run([(text, at) for text, at, _ in job])
                finally:  # whatever happened to the job, its other messages are not left waiting
                    for (_, _, fut), result in zip(job, results, strict=True):
                        if not fut.done():
                            fut.set_result(result)
        return await done

    async def parse_many(self, texts: list[tuple[str, datetime]]) -> list[ParseResult | None]:
        """A burst's texts, in jobs of at most JOB_CHARS of text (each job has the whole time budget)."""
        out: list[ParseResult | None] = []
        start, size = 0, 0
        for end, (text, _) in enumerate(texts, 1):
            size += len(text)
            if size >= JOB_CHARS or end == len(texts):
                async with self._jobs:
                    out += await self._run(texts[start:end])
                start, size = end, 0
        return out

    async def _run(self, texts: list[tuple[str, datetime]]) -> list[ParseResult | None]:
        try:
            return await off_loop(self.app, partial(parse_each, self.app.data["parser"]), batch_job, texts,
                                  budget=self.app.data["report_limits"].budget_s)
        except TimeoutError:
            return [None] * len(texts)
        except Exception as exc:  # the hop itself failed: the normal chain reads each alone
            self.app.log.warning("report_read_failed", texts=len(texts), error=repr(exc)[:200])
            return [None] * len(texts)


class ReportBatcher:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.reader = Reader(app)
        self.queue: list[Item] = []
        self._lock = asyncio.Lock()
        self.batches = 0

    def queue_item(self, item: Item) -> None:
        self.queue.append(item)

    async def submit(self, item: Item) -> str | None:
        """The outcome of a queued item once committed; None: the batch failed and nothing of it was stored."""
        async with self._lock:  # one batch at a time; whoever gets the lock commits everything queued
            if not item.done.done():
                batch, self.queue = self.queue, []
                await self._commit_or_fail(batch)
        return await item.done

    async def commit_now(self, items: list[Item]) -> None:
        """These items in one batch of their own (a burst's): each done with its outcome, or None."""
        async with self._lock:
            await self._commit_or_fail(items)

    async def _commit_or_fail(self, batch: list[Item]) -> None:
        try:
            await self._commit(batch)
        except Exception as exc:
            self.app.log.warning("report_batch_failed", size=len(batch), error=repr(exc)[:300])
            for it in batch:
                if not it.done.done():
                    it.done.set_result(None)

    @staticmethod
    def _asking(batch: list[Item]) -> list[str]:
        return sorted({it.person.id for it in batch if it.answer_states and it.person is not None})

    @staticmethod
    def _not_answers(batch: list[Item], rows: list[tuple[Any, ...]]) -> list[Item]:
        """The batch without the messages that answer a warning after all (someone named in it said 收到,
        and `rows` has an obligation of theirs in a state that makes it an answer): those go down the normal
        chain (done with None)."""
        states: dict[str, set[str]] = {}
        for person_id, state in rows:
            states.setdefault(person_id, set()).add(state)
        keep = []
        for it in batch:
            if it.person is not None and states.get(it.person.id, set()) & set(it.answer_states):
                it.done.set_result(None)
            else:
                keep.append(it)
        return keep

    async def _commit(self, batch: list[Item]) -> None:
        app = self.app
        cfg, calendar, directory = app.cfg, app.data["calendar"], app.directory
        outcomes: list[str] = []
        replies: list[dict[str, Any]] = []
        async with transaction(app.sessions) as session:
            conn = await session.connection()
            sqlite = conn.dialect.name == "sqlite"
            # every read of the batch at once (one hop on SQLite): the 提级管理 rounds of the days posted,
            # the active reports of any day a report may be for, the people who may be answering a warning,
            # and (SQLite) the largest ids
            days = sorted({it.event.received_at.date() for it in batch})
            report_days = sorted({*days, *(it.parsed.report.date for it in batch if it.parsed and it.parsed.report)})
            asking = self._asking(batch)
            reads = [(_ROUNDS, {"day": day}) for day in days] + [(ACTIVE_REPORTS, {"days": report_days})]
            reads += [(_ANSWERABLE, {"people": asking})] if asking else []
            reads += [(_MAX_IDS, {})] if sqlite else []
            found = await read_all(conn, reads)
            slots = {day: slots_of(rows[0][0] if rows else None, day, cfg, calendar)
                     for day, rows in zip(days, found, strict=False)}
            active = found[len(days)]
            if asking:
                batch = self._not_answers(batch, found[len(days) + 1])
            ignored = [it for it in batch if it.parsed is None]
            reports = [it for it in batch if it.parsed is not None]
            drafts = []
            for it in reports:
                e, parsed = it.event, it.parsed
                assert parsed is not None and parsed.report is not None and it.person is not None
                round_no, late = place(parsed, e.received_at, slots[e.received_at.date()], cfg, calendar)
                drafts.append(Draft(parsed.report, resolve_unit(parsed.report, it.person, directory), it.person.id,
                                    e.received_at, it.raw_id, late, "text", parsed.problems, round_no, parsed.review))
            # the raw rows first (a report points at its message); chatter is stored with its outcome
            # (the items keep raw_id None: should the batch fail, the normal chain stores them)
            writes = Writes(conn)
            new = [it for it in batch if it.raw_id is None]
            wanted = [len(new), len(drafts), sum(len(d.parsed.records) for d in drafts),
                      sum(len(r.hazards) for d in drafts for r in d.parsed.records)]
            ids = reserved(_ID_TABLES, found[-1][0], wanted) if sqlite else \
                await reserve_ids(conn, dict(zip(_ID_TABLES, wanted, strict=True)))
            raw_ids = ids.get(RawMessage.__tablename__, [])
            new_ids = {id(it): raw_id for it, raw_id in zip(new, raw_ids, strict=True)}
            for d, it in zip(drafts, reports, strict=True):
                d.raw_id = new_ids.get(id(it), it.raw_id)
            writes.insert(RawMessage, [{"id": new_ids[id(it)], **raw_values(it.event, directory),
                                        "outcome": "ignored" if it.parsed is None else "pending"} for it in new])
            stored_ignored = [{"rid": it.raw_id, "out": "ignored", "h": None} for it in ignored if it.raw_id is not None]
            stored = await store_reports(conn, drafts, writes, active=active, ids=ids)
            outbox = Outbox(session, app.data)
            for it, d, s in zip(reports, drafts, stored, strict=True):
                e, parsed = it.event, it.parsed
                assert parsed is not None and it.person is not None
                if parsed.review:
                    text = review_text(s, parsed.review) + "\n" + app.templates.render("report_template")
                    outcomes.append("report_review")
                else:
                    text = reply_text(s, parsed, d.late)
                    outcomes.append("report_corrected" if s.corrected else "report")
                replies += outbox.chat_rows(e.transport, e.chat_id, text, mentions=[Mention(e.sender_id, it.person.name)],
                                            account=e.account)
            done = [{"rid": d.raw_id, "out": o, "h": HANDLER} for d, o in zip(drafts, outcomes, strict=True)]
            writes.run(_OUTCOME, done + stored_ignored)
            writes.insert(OutboxEntry, replies)
            await writes.flush()
        self.batches += 1
        for it, outcome in zip(reports, outcomes, strict=True):
            it.done.set_result(outcome)
        for it in ignored:
            it.done.set_result("ignored")
        if replies and app.outbox_sender is not None:
            app.outbox_sender.wake()


async def report_lane(event: InboundMessage, data: dict[str, Any]) -> str | None:
    """The fast lane's entry (see `bot.dispatch.middleware.fast_lanes`): the outcome when it took the
    message, None to pass it on (with the report read already, so the normal chain does not read it again)."""
    person = data["directory"].person(event.transport, event.sender_id)
    answer_states = takeable(event, person, data)
    if answer_states == NOT_MINE:
        return None
    if data.get("raw_id") is None and (len(event.text) > LONG_TEXT or storable(event.text)[1]):
        return None  # stored by the normal chain: a long text in parts, an escaped one with what changed
    batcher: ReportBatcher = data["report_batcher"]
    # read and queued in order per sender and chat (a correction follows the report it corrects, and a
    # batch keeps the order of its queue); not per chat, or a group's reports could never share a commit
    async with data["chat_locks"].get(f"{event.transport}:{event.chat_id}:{event.sender_id}"):
        item = await _item(event, data, person, answer_states or ())
        if item is None or isinstance(item, str):
            return item
        batcher.queue_item(item)
    key = f"{event.transport}:{event.message_id}"
    try:
        outcome = await batcher.submit(item)
    except BaseException:
        if item.raw_id is None:
            await data["dedup"].release(key)
        raise
    if outcome is None:
        if item.raw_id is None:
            await data["dedup"].release(key)  # the normal chain takes it, de-duplication included
        return None
    if item.parsed is not None:
        data["handler"] = HANDLER
    return outcome


async def _item(event: InboundMessage, data: dict[str, Any], person: Person | None,
                answer_states: tuple[str, ...]) -> Item | str | None:
    """The message read: an item for the batch, 'duplicate', or None for the normal chain."""
    data["person"] = person
    todo = text_to_read(event, data)
    if isinstance(todo, str):
        result = await data["report_batcher"].reader.parse(todo, event.received_at)
        if result is None:
            return None  # the normal chain reads it alone, within its own budget
        todo = read_result(result, person is not None, data["report_limits"])
    item = item_of(event, data, person, answer_states, todo)
    if item is None:
        return None
    if item.raw_id is None and not await data["dedup"].first_time(f"{event.transport}:{event.message_id}"):
        return "duplicate"
    return item


def item_of(event: InboundMessage, data: dict[str, Any], person: Person | None, answer_states: tuple[str, ...],
            todo: dict[str, Any] | None) -> Item | None:
    """The batch's item for a message read (`todo`: what `read_result` or `text_to_read` said of it), or None
    when the normal chain must take it (it answers, refuses or re-reads it)."""
    directory = data["directory"]
    pre = data.setdefault("report_pre", todo or {})  # read once: the normal chain's prepare step keeps this
    if pre.get("too_long"):
        return None
    parsed: ParseResult | None = pre.get("parsed")
    if parsed is not None and parsed.report is None:
        parsed = None  # no report after all: nothing wants it
    if parsed is not None:
        assert parsed.report is not None
        if person is None or not may_report(person) or future_date(parsed, event) is not None \
                or is_supplement(event.text):
            return None  # told to register first, that only reporters report, to fix the date, or a 补充: the normal chain
        unit = resolve_unit(parsed.report, person, directory)
        region = unit.region if unit else directory.regions.canonical(parsed.report.region)
        if region and not covers(directory, person, region):
            return None  # refused (and audited) by the normal chain
    return Item(event, person, parsed, data.get("raw_id"), asyncio.get_running_loop().create_future(),
                answer_states if person is not None else ())
