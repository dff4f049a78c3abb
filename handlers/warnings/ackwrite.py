"""The writes of one ack batch: raw rows stored or marked, obligations acked, call records, pending steps
cancelled.

On PostgreSQL they are one statement (data-modifying CTEs over arrays): each statement is a round trip to
the server, and round trips, not rows, are what a batch of a dozen acks costs. SQLite has no round trips
and no writing CTEs: one executemany per table."""
from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, text, update

from models.core import RawMessage
from models.types import LocalTime
from models.warnings import CallRecord, EscalationStep, Obligation

# the columns the fast lane fills; the others keep their defaults (meta {}, no error, no original bytes)
RAW_COLUMNS = ("transport", "account", "chat_id", "sender_id", "message_id", "is_group", "sender_known",
               "chat_known", "text", "received_at")

_PG = text(f"""
WITH new_raw AS (
    INSERT INTO raw_messages ({", ".join(RAW_COLUMNS)}, attachments, meta, outcome, handler)
    SELECT {", ".join("r." + c for c in RAW_COLUMNS)}, '[]', '{{}}', 'ack', :handler
    FROM unnest(CAST(:transport AS varchar[]), CAST(:account AS varchar[]), CAST(:chat_id AS varchar[]),
                CAST(:sender_id AS varchar[]), CAST(:message_id AS varchar[]), CAST(:is_group AS boolean[]),
                CAST(:sender_known AS boolean[]), CAST(:chat_known AS boolean[]), CAST(:text AS varchar[]),
                CAST(:received_at AS timestamp[])) AS r({", ".join(RAW_COLUMNS)})
), stored AS (
    UPDATE raw_messages SET outcome = 'ack', handler = :handler WHERE id = ANY(CAST(:stored AS integer[]))
), acked AS (
    UPDATE obligations o SET state = 'acked', acked_at = a.at, ack_channel = a.channel, ack_text = a.text
    FROM unnest(CAST(:oid AS integer[]), CAST(:at AS timestamp[]), CAST(:channel AS varchar[]),
                CAST(:ack_text AS varchar[])) AS a(oid, at, channel, text)
    WHERE o.id = a.oid AND o.id = ANY(CAST(:oid AS integer[]))
), records AS (
    INSERT INTO call_records (warning_id, obligation_id, person_id, at, direction, channel, text)
    SELECT c.warning_id, c.oid, c.person_id, c.at, 'in', 'ack', c.text
    FROM unnest(CAST(:warning_id AS integer[]), CAST(:oid AS integer[]), CAST(:person_id AS varchar[]),
                CAST(:at AS timestamp[]), CAST(:ack_text AS varchar[])) AS c(warning_id, oid, person_id, at, text)
), steps AS (
    UPDATE escalation_steps SET status = 'cancelled'
    WHERE obligation_id = ANY(CAST(:oid AS integer[])) AND status = 'pending'
)
SELECT 1
""")

_local = LocalTime().process_bind_param


async def write(conn: Any, handler: str, stored: list[int], raws: list[dict[str, Any]],
                acked: list[dict[str, Any]]) -> None:
    """`stored`: ids of raw rows the intake stored (their outcome is set); `raws`: rows to insert, keyed as
    RAW_COLUMNS; `acked`: {oid, warning_id, person_id, at, channel, text} per obligation answered."""
    if conn.dialect.name == "postgresql":
        if not (stored or raws or acked):
            return
        await conn.execute(_PG, {
            "handler": handler, "stored": stored,
            **{c: [r[c] for r in raws] for c in RAW_COLUMNS if c != "received_at"},
            "received_at": [_local(r["received_at"], None) for r in raws],
            "oid": [a["oid"] for a in acked], "at": [_local(a["at"], None) for a in acked],
            "channel": [a["channel"] for a in acked], "ack_text": [a["text"] for a in acked],
            "warning_id": [a["warning_id"] for a in acked], "person_id": [a["person_id"] for a in acked],
        })
        return
    if stored:
        await conn.execute(update(RawMessage.__table__).where(RawMessage.__table__.c.id == bindparam("rid"))
                           .values(outcome="ack", handler=handler), [{"rid": r} for r in stored])
    if raws:
        await conn.execute(insert(RawMessage), [{**r, "attachments": [], "outcome": "ack", "handler": handler}
                                                for r in raws])
    if acked:
        await conn.execute(
            update(Obligation.__table__).where(Obligation.__table__.c.id == bindparam("oid"))
            .values(state="acked", acked_at=bindparam("at"), ack_channel=bindparam("channel"),
                    ack_text=bindparam("text")), [{k: a[k] for k in ("oid", "at", "channel", "text")} for a in acked])
        await conn.execute(insert(CallRecord), [
            {"warning_id": a["warning_id"], "obligation_id": a["oid"], "person_id": a["person_id"], "at": a["at"],
             "direction": "in", "channel": "ack", "text": a["text"]} for a in acked])
        await conn.execute(update(EscalationStep).where(
            EscalationStep.obligation_id.in_([a["oid"] for a in acked]), EscalationStep.status == "pending")
            .values(status="cancelled"))
