"""What a parse produces; `to_json` is the `python -m bot parse` contract."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

TOTAL_KEYS = ("teams", "inspectors", "enterprises", "hazards", "rectified")


@dataclass
class Record:
    enterprise: str
    inspecting_unit: str | None = None
    location: str | None = None
    domain: str = "其他"
    hazards: list[str] = field(default_factory=list)
    inspectors: list[str] = field(default_factory=list)
    rectification: str | None = None
    hazard_rectifications: list[str | None] = field(default_factory=list)
    hazards_blank: bool = False  # a 发现的问题隐患 field left empty
    # per hazard: rectified already, and by when if not, as of `settled_on` (the report's date when read;
    # see `settle`): read with the report, so that storing it is only writing
    done: list[bool] = field(default_factory=list)
    due: list[date | None] = field(default_factory=list)
    settled_on: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "enterprise": self.enterprise,
            "inspecting_unit": self.inspecting_unit,
            "location": self.location,
            "domain": self.domain,
            "hazards": list(self.hazards),
            "inspectors": list(self.inspectors),
            "rectification": self.rectification,
        }


@dataclass
class Report:
    date: date
    unit: str | None
    region: str | None
    totals: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(TOTAL_KEYS))
    records: list[Record] = field(default_factory=list)
    dated: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "unit": self.unit,
            "region": self.region,
            "totals": dict(self.totals),
            "records": [r.to_json() for r in self.records],
        }

    @property
    def hazard_count(self) -> int:
        n = self.totals.get("hazards")
        return n if n is not None else sum(len(r.hazards) for r in self.records)

    @property
    def rectified_count(self) -> int | None:
        return self.totals.get("rectified")

    @property
    def enterprise_count(self) -> int:
        n = self.totals.get("enterprises")
        return n if n is not None else len(self.records)


@dataclass
class ParseResult:
    kind: str
    report: Report | None = None
    problems: list[str] = field(default_factory=list)
    review: str | None = None  # why the parse cannot be trusted (the report is kept as 待核对), else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "report": self.report.to_json() if self.report else None,
            "problems": list(self.problems) if self.report else [],
        }
