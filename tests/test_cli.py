"""The command line answers bad input with one Chinese line and exit code 2, never a traceback."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

AT = "2026-03-16T14:20:00+08:00"


@pytest.mark.parametrize(("content", "expected"), [
    (None, "文件不存在"),
    (b"\xff\xfe\x00bad", "不是 UTF-8 文本"),
])
def test_parse_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str) -> None:
    path = tmp_path / "msg.txt"
    if content is not None:
        path.write_bytes(content)
    assert main(["parse", "--at", AT, "--json", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_parse_a_directory_and_a_bad_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "--at", AT, "--json", str(tmp_path)]) == 2
    assert main(["parse", "--at", "昨天", "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "是目录" in err and "--at 时间格式错误" in err


def test_the_demo_clock_is_not_turned_back_by_a_restart(tmp_path: Path) -> None:
    """The simulator demo moved to 16:41 stays there after `make run` again (it went back to the real time)."""
    from datetime import timedelta

    from bot.clock import DemoClock

    ahead = DemoClock(tmp_path / "demo_clock")
    ahead.set(ahead.now() + timedelta(hours=5))
    moved_to = ahead.now()
    again = DemoClock(tmp_path / "demo_clock")
    assert again.now() >= moved_to - timedelta(seconds=1)
    assert DemoClock().now() < moved_to - timedelta(hours=4)  # without the file: the real time


def test_the_demo_chats_are_shown_again_after_a_restart(tmp_path: Path) -> None:
    from bot.clock import FakeClock
    from bot.config import load_config
    from bot.directory import Directory
    from bot.settings import ROOT
    from bot.transports.simulator import SimulatorTransport
    from tests.conftest import START

    cfg, tree = load_config(ROOT / "config" / "demo.yaml")
    keep = tmp_path / "sim_chats.jsonl"
    before = SimulatorTransport(Directory(cfg, tree), FakeClock(START), keep=keep)
    before.make_event("g-jl", "ltq-bs", "收到")
    with keep.open("a", encoding="utf-8") as f:
        f.write('{"id": "cut')  # a line a crash cut short
    after = SimulatorTransport(Directory(cfg, tree), FakeClock(START), keep=keep)
    assert [line["text"] for line in after.history("g-jl")] == ["收到"]
