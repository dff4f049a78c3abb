"""Read tests/data/parse_corpus.txt (format described at its top) into cases with expected parts."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from handlers.reports.parse.model import TOTAL_KEYS

CORPUS = Path(__file__).resolve().parent / "data" / "parse_corpus.txt"


@dataclass
class Case:
    id: str
    category: str
    at: str
    text: str
    kind: str = ""
    date: str | None = None
    totals: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(TOTAL_KEYS))
    records: list[dict] = field(default_factory=list)
    problems: list[str] | None = None


def load(path: Path = CORPUS) -> list[Case]:
    cases: list[Case] = []
    text_lines: list[str] = []
    case: Case | None = None
    in_text = False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("### "):
            _, cid, category, at = line.split()
            case = Case(cid, category, at, "")
            cases.append(case)
            text_lines, in_text = [], True
            continue
        if case is None:
            continue
        if in_text:
            if line.startswith(">>> "):
                case.text = "\n".join(text_lines).strip("\n")
                parts = line[4:].split()
                case.kind = parts[0]
                case.date = parts[1] if len(parts) > 1 else None
                in_text = False
            else:
                text_lines.append(line)
            continue
        if line.startswith("totals:"):
            for k, v in re.findall(r"(\w+)=(\d+)", line):
                case.totals[k] = int(v)
        elif line.startswith("rec:"):
            ent, domain, names, hazards = (p.strip() for p in line[4:].split("|"))
            case.records.append({"enterprise": ent, "domain": domain,
                                 "inspectors": [n for n in names.split("、") if n],
                                 "hazards": [h for h in hazards.split("；") if h]})
        elif line.startswith("problems:"):
            case.problems = [p.strip() for p in line[9:].split("；") if p.strip()]
    return cases
