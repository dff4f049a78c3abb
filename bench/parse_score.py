"""Score the parser against our own variant corpus (tests/data/parse_corpus.txt), part by part, the way the
held-out set is scored: message kind, date, record count, enterprise names, hazards per record, inspectors per
record, domain, totals; the overall figure is their mean.

`python bench/parse_score.py [-v]` (-v prints every miss). Goal: overall >= 0.97."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import figures

from bot.config import load_config
from bot.settings import ROOT
from handlers.reports.parse import Parser
from tests.corpus import Case, load

PARTS = ("kind", "date", "records", "enterprises", "hazards", "inspectors", "domain", "totals")
GOAL = 0.97


def score_case(case: Case, got: dict) -> dict[str, float]:
    """Each part in [0, 1] for one message; parts that do not apply are left out."""
    s: dict[str, float] = {"kind": float(got["kind"] == case.kind)}
    if case.kind != "report":
        return s
    rep = got["report"] or {}
    s["date"] = float(rep.get("date") == case.date)
    recs = rep.get("records") or []
    s["records"] = float(len(recs) == len(case.records))
    totals = rep.get("totals") or {}
    s["totals"] = sum(totals.get(k) == v for k, v in case.totals.items()) / len(case.totals)
    if case.records or recs:
        n = max(len(case.records), len(recs))
        pairs = list(zip(case.records, recs, strict=False))
        s["enterprises"] = sum(e["enterprise"] == g["enterprise"] for e, g in pairs) / n
        s["hazards"] = sum(e["hazards"] == g["hazards"] for e, g in pairs) / n
        s["inspectors"] = sum(e["inspectors"] == g["inspectors"] for e, g in pairs) / n
        s["domain"] = sum(e["domain"] == g["domain"] for e, g in pairs) / n
    return s


def main() -> None:
    verbose = "-v" in sys.argv
    only = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    cfg, tree = load_config(ROOT / "config" / "demo.yaml")
    parser = Parser(tree, cfg)
    cases = [c for c in load() if only is None or c.category == only or c.id == only]
    sums = dict.fromkeys(PARTS, 0.0)
    counts = dict.fromkeys(PARTS, 0)
    by_cat: dict[str, list[float]] = {}
    problems_ok = problems_n = 0
    for case in cases:
        got = parser.parse(case.text, datetime.fromisoformat(case.at)).to_json()
        s = score_case(case, got)
        for k, v in s.items():
            sums[k] += v
            counts[k] += 1
        by_cat.setdefault(case.category, []).append(sum(s.values()) / len(s))
        if case.problems is not None:
            problems_n += 1
            problems_ok += all(any(p in q for q in got["problems"]) for p in case.problems)
        if verbose and min(s.values()) < 1:
            print(f"-- {case.id} {s}")
            print(f"   got {got}")
    means = {k: (sums[k] / counts[k] if counts[k] else 1.0) for k in PARTS}
    overall = sum(means.values()) / len(means)
    print(f"{len(cases)} messages")
    for k in PARTS:
        print(f"{k:12s} {means[k]:.2f}  ({counts[k]} scored)")
    for cat, vals in sorted(by_cat.items()):
        print(f"category {cat:8s} {sum(vals) / len(vals):.2f}  ({len(vals)})")
    if problems_n:
        print(f"problems named as expected: {problems_ok}/{problems_n}")
    print(f"overall {overall:.3f} (goal >= {GOAL}: {overall / GOAL:.2f}x)")
    print("RESULT " + figures(score=round(overall, 4), **{k: round(v, 3) for k, v in means.items()}))


if __name__ == "__main__":
    main()
