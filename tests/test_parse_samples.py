"""Every sample message through `python -m bot parse`, exactly as the acceptance tests call it."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.settings import ROOT

SAMPLES = ROOT.parent / "shared" / "samples" / "messages.jsonl"


def _load() -> list[dict]:
    if not SAMPLES.exists():
        return []
    return [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]


def _run(sample: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "parse", "--at", sample["at"], "--json", "-"],
        input=sample["text"], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True,
    )
    return json.loads(out.stdout)


def test_all_samples_match_through_the_cli() -> None:
    samples = _load()
    if not samples:
        pytest.skip("../shared/samples/messages.jsonl is not beside this checkout")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_run, samples))
    wrong = [(s["id"], got, s["expected"]) for s, got in zip(samples, results, strict=True) if got != s["expected"]]
    detail = "\n".join(f"{i}:\n got {json.dumps(g, ensure_ascii=False)}\n exp {json.dumps(e, ensure_ascii=False)}"
                       for i, g, e in wrong)
    assert not wrong, f"{len(wrong)}/{len(samples)} samples differ:\n{detail}"


def test_cli_reads_a_file_and_rejects_a_bad_time(tmp_path: Path) -> None:
    f = tmp_path / "m.txt"
    f.write_text("收到，按要求办理", encoding="utf-8")
    ok = subprocess.run([sys.executable, "-m", "bot", "parse", "--at", "2026-03-16T08:52:00+08:00", "--json", str(f)],
                        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert json.loads(ok.stdout) == {"kind": "ack", "report": None, "problems": []}
    bad = subprocess.run([sys.executable, "-m", "bot", "parse", "--at", "昨天", "--json", str(f)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "时间格式错误" in bad.stderr
