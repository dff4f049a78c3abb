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
