"""Property-based fuzzing of the one dispatch entry, on SQLite and PostgreSQL: whatever arrives is stored
raw and answered within its budget, and nothing crashes (no `error` outcome, no apology).

Derandomized with a fixed number of examples, so CI runs are the same every time and take seconds."""
from __future__ import annotations

import itertools
import time
import zipfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from bot.events import Attachment
from models.core import RawMessage
from tests.conftest import both_backends
from tests.daily_helpers import simple_report
from tests.harness import Harness

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BUDGET_S = 5.0  # a message is answered within this, whatever it holds (the parse budget is 2 s)
NASTY = ["\x00", "\ud800", "\udfff", "\u202e", "\u200f", "\u200b", "\ufeff", "\uffff", "\ufffe", "\x1b", "\r", "\x7f",
         "\u2005", "\u3000", "@", "#", "/", "：", "收到", "销号", "叫应", "日报", "检查", "隐患", "\n"]
TEXT = st.lists(st.one_of(st.characters(), st.sampled_from(NASTY)), max_size=150).map("".join)
SENDERS = st.sampled_from([("g-jl", "ltq-bs"), ("chuzhang", "liwd"), ("g-jl", "jl-gly"), ("g-jl", "stranger"),
                           ("dm:shenlx", "shenlx"), ("dm:nobody", "nobody"), ("anwei", "shenlx")])
BIG = st.one_of(st.integers(0, 10**30), st.integers(-10**6, -1)).map(str)
DAY = st.builds(lambda y, m, d: f"{y}年{m}月{d}日", st.integers(0, 99999), st.integers(0, 99), st.integers(0, 99))
COMMANDS = st.builds(
    lambda cmd, a, b: f"@应急助手 {cmd} {a} {b}",
    st.sampled_from(["销号", "日报表", "统计", "隐患清单", "叫应 红色 暴雨预警 范围：吉林市 内容：x 时限", "提级管理",
                     "提示函", "叫应情况", "解除", "叫应记录", "绑定本群 区域", "绑定 @李卫东", "收到", "发布点评", "点评 危化品："]),
    st.one_of(BIG, DAY, TEXT), st.one_of(BIG, DAY, TEXT, st.just("轮"), st.just("天"), st.just("分钟")),
)
_ids = itertools.count()


async def _raw_count(h: Harness) -> int:
    async with h.app.sessions() as s:
        return (await s.exec(select(func.count()).select_from(RawMessage))).one()


async def _check(h: Harness, chat: str, sender: str, text: str, **kw: object) -> None:
    before = await _raw_count(h)
    sent = len(h.sent)
    t = time.perf_counter()
    outcome = await h.say(chat, sender, text, message_id=f"fz-{next(_ids)}", **kw)
    elapsed = time.perf_counter() - t
    assert outcome != "error", (outcome, text)
    assert elapsed < BUDGET_S, (elapsed, text[:80])
    assert await _raw_count(h) == before + 1
    assert not [m for m in h.sent[sent:] if "处理这条消息时出错" in m.text], text


@both_backends
@FUZZ
@given(where=SENDERS, text=TEXT)
async def test_any_text_is_stored_and_answered(h: Harness, where: tuple[str, str], text: str) -> None:
    await _check(h, *where, text)


@both_backends
@FUZZ
@given(where=SENDERS, text=COMMANDS)
async def test_commands_with_huge_numbers_and_impossible_dates(h: Harness, where: tuple[str, str], text: str) -> None:
    await _check(h, *where, text)


@both_backends
@FUZZ
@given(enterprise=TEXT, hazard=TEXT, year=st.integers(1, 9999), month=st.integers(1, 12), day=st.integers(1, 28),
       sender=st.sampled_from(["ltq-bs", "jl-bs", "stranger"]))
async def test_reports_with_hostile_fields(h: Harness, enterprise: str, hazard: str, year: int, month: int, day: int,
                                           sender: str) -> None:
    text = simple_report("吉林市龙潭区应急管理局", date(year, month, day), enterprise=enterprise or "x", hazard=hazard or "y")
    await _check(h, "g-jl", sender, text.replace(f"{month}月{day}日", f"{year}年{month}月{day}日", 1))


CELL = st.one_of(TEXT, st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True), st.none())


@both_backends
@settings(FUZZ, max_examples=8)
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=8), max_size=30), header=st.booleans(),
       sender=st.sampled_from(["ltq-bs", "stranger"]))
async def test_hostile_workbooks(h: Harness, tmp_path: Path, rows: list[list[object]], header: bool, sender: str) -> None:
    from openpyxl import Workbook

    from bot.xlsx import safe_row

    wb = Workbook()
    if header:
        wb.active.append(["检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况"])
    for row in rows:
        wb.active.append(safe_row(v for v in row))  # what openpyxl can write at all; the reader sees the rest
    path = tmp_path / f"fz{next(_ids)}.xlsx"
    wb.save(path)
    await _check(h, "g-jl", sender, "日报", attachments=[Attachment(path.name, str(path))])


@both_backends
async def test_ten_thousand_records_and_a_zip_bomb(h: Harness, tmp_path: Path) -> None:
    record = "受检单位：示范化工有限公司{i}\n发现的问题隐患：报警器未检定\n"
    text = "吉林市龙潭区应急管理局3月13日监督检查情况\n检查单位：龙潭区应急管理局\n" + "".join(
        record.format(i=i) for i in range(10_000))
    await _check(h, "g-jl", "ltq-bs", text)
    h.expect_sent("内容过长")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:  # 0.2 MB on disk, 200 MB of sheet XML
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<worksheet><sheetData>" + b" " * 200_000_000)
    await _check(h, "g-jl", "ltq-bs", "日报", attachments=[Attachment("bomb.xlsx", str(bomb))])
    h.expect_sent("内容过长")
