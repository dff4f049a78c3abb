"""Our own variants of what officials write (tests/data/parse_corpus.txt), one test per category, through
`python -m bot parse --jsonl`: enterprises inside sentences, details under short names, rectification notes,
inspectors in any position, no-hazard wordings, domains by industry, acknowledgements, unreadable fields."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.settings import ROOT
from tests.corpus import Case, load

CASES = load()
CATEGORIES = sorted({c.category for c in CASES})


def _parse_all(cases: list[Case]) -> list[dict]:
    lines = "\n".join(json.dumps({"at": c.at, "text": c.text}, ensure_ascii=False) for c in cases)
    out = subprocess.run([sys.executable, "-m", "bot", "parse", "--jsonl", "-"], input=lines, capture_output=True,
                         text=True, cwd=ROOT, timeout=120, check=True)
    return [json.loads(x) for x in out.stdout.splitlines()]


def _differences(case: Case, got: dict) -> list[str]:
    diffs = []
    if got["kind"] != case.kind:
        return [f"kind {got['kind']} != {case.kind}"]
    if case.kind != "report":
        return diffs
    rep = got["report"]
    if rep["date"] != case.date:
        diffs.append(f"date {rep['date']} != {case.date}")
    if rep["totals"] != case.totals:
        diffs.append(f"totals {rep['totals']} != {case.totals}")
    want = [dict(r) for r in case.records]
    have = [{k: r[k] for k in ("enterprise", "domain", "inspectors", "hazards")} for r in rep["records"]]
    if have != want:
        diffs.append(f"records\n   got  {have}\n   want {want}")
    if case.problems is not None:
        missing = [p for p in case.problems if not any(p in q for q in got["problems"])]
        if missing:
            diffs.append(f"problems {got['problems']} lack {missing}")
    return diffs


@pytest.mark.parametrize("category", CATEGORIES)
def test_category_parses_as_written(category: str) -> None:
    cases = [c for c in CASES if c.category == category]
    results = _parse_all(cases)
    wrong = {c.id: d for c, got in zip(cases, results, strict=True) if (d := _differences(c, got))}
    assert not wrong, "\n".join(f"{cid}: " + "; ".join(d) for cid, d in wrong.items())


def test_jsonl_rejects_a_bad_line() -> None:
    out = subprocess.run([sys.executable, "-m", "bot", "parse", "--jsonl", "-"], input='{"text": "收到"}\n',
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "第1行格式错误" in out.stderr
