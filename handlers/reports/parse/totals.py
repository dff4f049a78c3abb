"""Whole-report totals: only numbers the message states for the whole report."""
from __future__ import annotations

import re

from handlers.reports.parse.model import TOTAL_KEYS
from handlers.reports.parse.numbers import NUM, to_int

_UNIT = r"(?:处|项|条|个)"
_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "teams": [re.compile(rf"({NUM})\s*个\s*(?:检查|督查|执法|工作)?组"),
              re.compile(rf"(?:检查|督查|执法|工作)组\s*({NUM})\s*个")],
    "inspectors": [
        re.compile(rf"({NUM})\s*(?:名|位)\s*(?:监管|执法|检查)?(?:干部|人员)"),
        re.compile(rf"(?:检查|执法|监管)人员\s*({NUM})\s*(?:人|名)"),
        re.compile(rf"(?<![\d号])({NUM})\s*(?:人\s*[（(]?\s*次\s*[)）]?|人)(?![员家])"),
    ],
    "enterprises": [
        re.compile(rf"检查?[\u4e00-\u9fa5]{{0,8}}?(?:企业|单位|场所|煤矿|矿山|加油站)\s*[（(]?(?:单位)?[)）]?\s*({NUM})\s*(?:家|户|个|处)"),
        re.compile(rf"(?:检查|检|抽查|督查|巡查|对)[\u4e00-\u9fa5]{{0,6}}?({NUM})\s*(?:家|户)"),
        re.compile(rf"(?<![\d其])({NUM})\s*家\s*(?:企业|单位|生产经营单位|非煤矿山|煤矿|加油站|危化品企业|烟花爆竹|工贸企业)"),
        re.compile(rf"(?<![\d其])({NUM})\s*(?:处|个)\s*(?:煤矿|非煤矿山|矿山)"),
    ],
    "hazards": [
        re.compile(rf"发现(?:各类|一般|问题|安全)*(?:问题)?(?:隐患)?(?:问题)?\s*({NUM})\s*{_UNIT}"),
        re.compile(rf"(?:问题)?隐患(?:问题)?(?:共)?\s*({NUM})\s*{_UNIT}"),
    ],
    "rectified": [
        re.compile(rf"(?:已|当场|现场|立即)+(?:整改|完成整改|整改完毕)\s*({NUM})\s*{_UNIT}"),
        re.compile(rf"(?:整改完成|完成整改|整改完毕|整改到位|已销号)\s*({NUM})\s*{_UNIT}"),
        re.compile(rf"(?:整改|完成整改)(?:到位)?\s*({NUM})\s*{_UNIT}"),
    ],
}
_NONE_FOUND = re.compile(r"未发现(?:任何)?(?:安全)?(?:问题)?(?:隐患)?|无问题隐患|无隐患")
_ALL_FIXED = re.compile(r"均已(?:整改|完成整改|当场整改)|已全部整改|全部(?:整改|完成整改)(?:到位|完毕)?|均已整改到位")


def find_totals(text: str) -> dict[str, int | None]:
    """Read totals from the summary part of a report (never from one record's own counts)."""
    totals: dict[str, int | None] = dict.fromkeys(TOTAL_KEYS)
    for key, patterns in _PATTERNS.items():
        for p in patterns:
            m = p.search(text)
            if m:
                totals[key] = to_int(m.group(1))
                break
    if totals["hazards"] is None and _NONE_FOUND.search(text):
        totals["hazards"] = 0
    if totals["rectified"] is None and totals["hazards"] and _ALL_FIXED.search(text):
        totals["rectified"] = totals["hazards"]
    return totals
