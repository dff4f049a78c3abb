"""One message never stops the bot: bad characters, oversized texts and workbooks, numbers and dates
out of range. Each is stored raw and answered in one clear line."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.app import create_app
from bot.clock import FakeClock
from bot.dispatch.intake import HEAD, PART, full_texts, store_one
from bot.events import Attachment
from bot.settings import Settings
from bot.web.app import create_web
from models.core import RawMessage, RawText
from tests.conftest import both_backends
from tests.daily_helpers import simple_report
from tests.harness import Harness

FRIDAY = date(2026, 3, 13)
TOO_LONG = "内容过长，请分条发送或上传Excel（不超过3000行）"


async def test_one_bad_character_never_stops_the_daily_workbook(h: Harness) -> None:
    bad = "龙潭\uffff化工\x01有限公司\ufffe"
    assert await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", FRIDAY, enterprise=bad)) == "report"
    assert await h.say("chuzhang", "liuql", "@应急助手 日报表 3月13日") == "daily_report"
    msg = h.expect_sent("【3月13日日报表】")
    cells = [c.value for row in load_workbook(msg.attachment)["附表2 市县"].iter_rows() for c in row]
    assert "龙潭\ufffd化工有限公司\ufffd" in cells
    client = TestClient(TestServer(create_web(h.app)))
    await client.start_server()
    try:
        assert (await client.get("/reports/daily/2026-03-13.xlsx")).status == 200
    finally:
        await client.close()


async def test_a_huge_text_is_stored_and_answered_in_one_line(h: Harness) -> None:
    text = simple_report("吉林市龙潭区应急管理局", FRIDAY) * 1500  # more than 100,000 characters
    assert await h.say("g-jl", "ltq-bs", text) == "report_too_long"
    h.expect_sent(TOO_LONG)
    assert await h.say("g-jl", "stranger", text) != "report_too_long"  # an unknown sender is not read at all
    async with h.app.sessions() as s:
        assert len((await s.exec(select(RawMessage))).all()) == 2


def _sheet_xml(rows: int, dimension: bool) -> bytes:
    head = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    dim = b'<dimension ref="A1:F2"/>' if dimension else b""
    body = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (i, i) for i in range(1, rows + 1))
    return head + dim + b"<sheetData>" + body + b"</sheetData></worksheet>"


def hostile_workbook(path: Path, rows: int, dimension: bool) -> Path:
    """A real workbook whose sheet XML is replaced: many rows, and a <dimension> that lies (or none)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况"])
    wb.save(path)
    with zipfile.ZipFile(path) as zin:
        parts = {i.filename: zin.read(i) for i in zin.infolist()}
    parts["xl/worksheets/sheet1.xml"] = _sheet_xml(rows, dimension)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    return path


async def test_oversized_workbooks_are_refused_without_trusting_dimension(h: Harness, tmp_path: Path) -> None:
    for i, dimension in enumerate((True, False)):
        path = hostile_workbook(tmp_path / f"big{i}.xlsx", 100_000, dimension)
        att = Attachment(path.name, str(path))
        assert await h.say("g-jl", "ltq-bs", "日报", attachments=[att]) == "report_too_long"
        h.expect_sent(TOO_LONG)
    path = hostile_workbook(tmp_path / "x.xlsx", 100_000, False)
    assert await h.say("g-jl", "stranger", "日报", attachments=[Attachment("x.xlsx", str(path))]) == "report_unknown_sender"
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really")
    assert await h.say("g-jl", "ltq-bs", "日报", attachments=[Attachment("junk.xlsx", str(junk))]) == "report_unreadable"
    h.expect_sent("不是有效的 .xlsx")


async def test_numbers_and_dates_out_of_range_get_a_clear_answer(h: Harness) -> None:
    outcomes = {}
    for text in ("@应急助手 销号 99999999999999999999 已整改", "@应急助手 日报表 9999年12月31日",
                 "@应急助手 统计 9999年12月31日", "@应急助手 提级管理 3轮 99999999999天",
                 simple_report("吉林市龙潭区应急管理局", date(9999, 12, 31)).replace("9999", "9999年")):
        outcomes[text] = await h.say("g-jl", "shenlx" if "提级" in text else "ltq-bs", text)
    assert "error" not in outcomes.values(), outcomes
    assert not [m for m in h.sent if "抱歉，处理这条消息时出错了" in m.text]


MEGABYTE = (simple_report("吉林市龙潭区应急管理局", FRIDAY) + "\n") * 7_000  # about a megabyte of text


@both_backends
async def test_a_long_text_is_stored_in_parts_and_whole_after_a_crash(settings: Settings, clock: FakeClock) -> None:
    """SQLite has one writer: a megabyte goes in short transactions, and the raw row (whose outcome is
    updated later) keeps only its head; a re-handle after a crash sees the whole text."""
    app = create_app(settings, clock=clock)
    await app.start(background=False)
    text = MEGABYTE + "\x00尾"
    event, raw_id = await store_one(app.data, app.sim.make_event("g-jl", "ltq-bs", text, message_id="big"))
    assert raw_id is not None and event.text == MEGABYTE + "尾"
    assert (await store_one(app.data, app.sim.make_event("g-jl", "ltq-bs", text, message_id="big")))[1] is None
    async with app.sessions() as s:
        row = await s.get(RawMessage, raw_id)
        parts = (await s.exec(select(RawText).where(RawText.body == row.meta["body"]).order_by(col(RawText.seq)))).all()
        assert len((await s.exec(select(RawText))).all()) == len(parts)  # the duplicate left no parts behind
        assert row.outcome == "pending" and row.text == event.text[:HEAD] and row.original is None
        assert row.meta["chars"] == len(event.text) and row.meta["escaped"] == ["U+0000"]
        assert len(parts) > 1 and max(len(p.text) for p in parts) <= PART
        assert "".join(p.text for p in parts) == event.text
        assert b"".join(p.original or b"" for p in parts) == text.encode()
    await app.stop()

    again = create_app(settings, clock=clock)
    await again.start(background=False)  # handles what is still pending, with its whole text
    try:
        async with again.sessions() as s:
            assert (await s.get(RawMessage, raw_id)).outcome == "report_too_long"
        h = Harness(again, clock)
        await h.drain()
        h.expect_sent(TOO_LONG)
    finally:
        await again.stop()


async def test_a_huge_text_is_read_by_no_filter(h: Harness) -> None:
    """Past the text limit nothing parses, matches or classifies it: a command or an answer that long is refused
    in one line to a known sender, and a stranger's is left alone."""
    from handlers.reports.parse.classify import is_ack

    assert await h.say("anwei", "shenlx", "@应急助手 帮助 " + "帮助" * 60_000) == "report_too_long"
    h.expect_sent(TOO_LONG)
    assert await h.say("g-jl", "stranger", "收到" * 60_000) == "ignored"
    assert not h.new()[1:]
    assert is_ack("#接龙\n" + "1. 张三\n" * 1_000) and not is_ack("收到" + "。" * 3_000)
    assert is_ack("[微笑]收到") and not is_ack("收到" + "，已部署" * 40)


async def test_the_simulator_page_shows_the_beginning_of_a_long_text(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"scheduler": False}))
    await app.start()
    client = TestClient(TestServer(create_web(app, sim=True)))
    await client.start_server()
    try:
        body = json.dumps({"chat_id": "g-jl", "sender_id": "ltq-bs", "text": MEGABYTE}).encode()
        r = await client.post("/sim/api/send", data=io.BytesIO(body), headers={"Content-Type": "application/json"})
        assert r.status == 200
        mid = (await r.json())["message_id"]
        async with app.sessions() as s:  # acknowledged means stored, parts and all
            row = (await s.exec(select(RawMessage).where(RawMessage.message_id == mid))).one()
            assert (await full_texts(s, [row]))[row.id] == MEGABYTE
        (line,) = [x for x in app.sim.history("g-jl") if x["id"] == mid]
        assert len(line["text"]) < 5_000 and line["text"].endswith(f"…（共{len(MEGABYTE)}字）")
    finally:
        await client.close()
        await app.stop()


async def test_a_long_report_is_shown_whole_on_the_console(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.clock import local
    from handlers.daily.today import today_board, unit_report

    monkeypatch.setattr("bot.dispatch.intake.LONG_TEXT", 30_000)  # as if the text limit were raised past it
    notes = "\n备注：" + "本次检查重点为储罐区、装卸区和消防设施。" * 2_000  # 40,000 characters: in parts
    h.clock.set(local(date(2026, 3, 16), 10))
    assert await h.say("g-jl", "ltq-bs", simple_report("吉林市龙潭区应急管理局", FRIDAY) + notes) == "report"
    async with h.app.sessions() as s:
        b = await today_board(s, h.app.directory, h.app.cfg, h.app.data["calendar"], h.clock.now())
        unit = next(u.unit for t in b.rounds[0].tiles for u in t.units if u.unit.name == "龙潭区应急管理局")
        view = await unit_report(s, unit.id, b.rounds[0].slot)
    assert view is not None and view.raw_text.endswith(notes)


async def test_the_sqlite_log_is_copied_by_the_bot_not_by_a_committing_writer(h: Harness, tmp_path: Path) -> None:
    """SQLite's own checkpoint would run inside whichever commit crosses 1,000 pages, with the writer held."""
    from models.db import AUTO_CHECKPOINT_PAGES, checkpoint

    db = tmp_path / "bot.db"
    async with h.app.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == AUTO_CHECKPOINT_PAGES
    before = db.stat().st_size
    assert await h.say("g-jl", "ltq-bs", "收到" * 800_000) == "report_too_long"  # 4.8 MB: past 1,000 pages
    assert db.stat().st_size == before  # no writer copied it
    await checkpoint(h.app.engine)
    assert db.stat().st_size > before + 4_000_000
