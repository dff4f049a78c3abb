"""Issue 11: 叫应 and the daily cycle tell one truth. One test per numbered item, on the fake clock."""
from __future__ import annotations

from openpyxl import load_workbook
from sqlmodel import select

from handlers.warnings.state import board_rows, obligations
from models.warnings import Warning
from tests.harness import Harness
from tests.test_warnings import JILIN, issue

SILENT = ["jh-yb", "jh-bb"]


async def _outputs(h: Harness, wid: int) -> dict[str, dict[str, str]]:
    """The state of each silent person as the status reply, the workbook and the board show it."""
    names = {pid: h.app.directory.people[pid].name for pid in SILENT}
    await h.say("chuzhang", "liwd", f"@应急助手 叫应情况 {wid}")
    status = h.expect_sent(f"叫应#{wid} 红色暴雨预警（发出").text
    await h.say("chuzhang", "liwd", f"@应急助手 叫应记录 {wid}")
    sheet = load_workbook(h.expect_sent("全部呼叫与应答记录见附件").attachment)["回应情况"]
    excel = {r[0]: r[3] for r in sheet.iter_rows(min_row=2, values_only=True)}
    async with h.app.sessions() as s:
        w = await s.get(Warning, wid)
        board = {r.name: r.state_text for r in board_rows(h.app, w, await obligations(s, wid))}
    out: dict[str, dict[str, str]] = {"status": {}, "excel": {}, "board": {}}
    for pid, name in names.items():
        out["status"][pid] = next(st for st in ("未叫醒", "催叫中", "待回应", "已解除") if f"{name}（{st}）" in status)
        out["excel"][pid] = excel[name]
        out["board"][pid] = board[name]
    out["status_line"] = {"line": status.splitlines()[1]}
    return out


async def test_1_unwoken_is_the_same_in_all_five_outputs(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN:
        if pid not in SILENT:
            await h.say("g-jl", pid, "收到")
    await h.tick(minutes=5, seconds=1)  # the 未叫醒名单 goes out at +5
    names = {h.app.directory.people[p].name for p in SILENT}
    listed = h.expect_sent("【未叫醒名单】", chat="dm:liwd").text
    assert "未叫醒2人" in listed and all(n in listed for n in names)
    before = await _outputs(h, wid)
    assert before["status_line"]["line"] == "点名11人，已回应9人，未叫醒2人"
    for what in ("status", "excel", "board"):
        assert before[what] == {p: "未叫醒" for p in SILENT}, what
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    summary = h.expect_sent("【总结】", chat="chuzhang").text
    assert "点名11人，已回应9人，未叫醒2人" in summary and all(n in summary for n in names)
    after = await _outputs(h, wid)
    assert after["status_line"]["line"] == "点名11人，已回应9人，未叫醒2人"
    for what in ("status", "excel", "board"):
        assert after[what] == {p: "未叫醒" for p in SILENT}, what


async def test_1_closed_before_the_deadline_is_closed_everywhere(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN:
        if pid not in SILENT:
            await h.say("g-jl", pid, "收到")
    await h.tick(minutes=3, seconds=1)  # re-mentioned and messaged privately: 催叫中
    during = await _outputs(h, wid)
    for what in ("status", "excel", "board"):
        assert during[what] == {p: "催叫中" for p in SILENT}, what
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    summary = h.expect_sent("【总结】", chat="chuzhang").text
    assert "点名11人，已回应9人，未叫醒0人，解除时未回应2人" in summary
    after = await _outputs(h, wid)
    for what in ("status", "excel", "board"):
        assert after[what] == {p: "已解除" for p in SILENT}, what
    h.new()
    calls = len(h.app.data["call_provider"].calls)
    await h.tick(minutes=30)
    assert h.new() == [] and len(h.app.data["call_provider"].calls) == calls  # nothing runs after 解除


async def test_1_late_ack_after_unwoken_is_recorded_late(h: Harness) -> None:
    wid = await issue(h)
    for pid in JILIN:
        if pid not in SILENT:
            await h.say("g-jl", pid, "收到")
    await h.tick(minutes=5, seconds=1)
    await h.say("g-jl", "jh-yb", "收到")
    async with h.app.sessions() as s:
        w = await s.get(Warning, wid)
        rows = {r.person_id: r for r in board_rows(h.app, w, await obligations(s, wid))}
        from models.warnings import CallRecord

        acks = (await s.exec(select(CallRecord).where(CallRecord.person_id == "jh-yb", CallRecord.channel == "ack"))).all()
    assert rows["jh-yb"].state == "已回应" and rows["jh-yb"].late and rows["jh-yb"].state_text == "已回应（超时）"
    assert len(acks) == 1 and acks[0].text.startswith("（超时回应")
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    assert "已回应10人（其中超时回应1人），未叫醒1人" in h.expect_sent("【总结】", chat="chuzhang").text


async def test_3_rates_round_half_up(h: Harness) -> None:
    from bot.text import percent

    assert [percent(2, 3), percent(1, 3), percent(1, 8), percent(5, 8), percent(0, 0)] == ["67%", "33%", "13%", "63%", "0%"]
    wid = await issue(h)
    await h.say("g-jl", "jl-yb", "收到")
    await h.say("g-jl", "jl-bb", "收到")  # 2 of the 3 named for 吉林市 itself
    await h.say("chuzhang", "liwd", f"@应急助手 解除 {wid}")
    summary = h.expect_sent("【总结】", chat="chuzhang").text
    assert "· 吉林市：回应率67%（2/3），5分钟内2人（67%）" in summary and "回应率18%（2/11）" in summary
