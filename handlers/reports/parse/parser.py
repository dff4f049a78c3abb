"""Turn one group message into a ParseResult: its kind and, for reports, the report."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from bot.clock import TZ
from bot.config import Config
from bot.regions import RegionTree
from bot.text import clean
from bot.workdays import WorkCalendar
from handlers.reports.parse import classify
from handlers.reports.parse.dates import find_date
from handlers.reports.parse.domain import decide, label_domain
from handlers.reports.parse.fields import CORE, Field, core_kinds, find_fields
from handlers.reports.parse.mentions import SUFFIX, is_enterprise, short_anchors
from handlers.reports.parse.model import ParseResult, Record, Report
from handlers.reports.parse.names import split_names
from handlers.reports.parse.numbers import NUM, to_int
from handlers.reports.parse.records import (
    labelled_records,
    list_items,
    narrative_records,
    record_from_fields,
    record_from_item,
)
from handlers.reports.parse.status import settle
from handlers.reports.parse.table import read_xlsx, record_from_row, split_tsv
from handlers.reports.parse.totals import find_totals
from handlers.reports.parse.units import find_unit

_INSPECTION = re.compile(r"检查|督查|巡查|执法|盯守|排查|驻矿|入井|抽查")
_FINDING = re.compile(r"隐患|问题|整改|发现|正常")
_SUMMARY = re.compile(r"\d+\s*(?:个检查组|名监管干部|名执法人员|人次|家企业|家单位|户)|检查[\u4e00-\u9fa5]{0,6}(?:企业|单位)\s*[\d一二三四五六七八九十两]+\s*[家户]")
_ENTERPRISE = re.compile(rf"[\u4e00-\u9fa5A-Za-z0-9]{{2,30}}?{SUFFIX}")
_INSPECTED_BY = re.compile(r"(?P<unit>[^\s：:，,。（(]{2,20}?)\s*(?P<n>\d+|[一二三四五六七八九十两]+)\s*名(?:监管|执法|检查)?(?:干部|人员)\s*[（(](?P<names>[^）)]+)[)）]")
_FOOTER_TOTALS = re.compile(r"(?m)^\s*(?:合计|共计|总计|汇总)[:：]?.*$")


def _settled(result: ParseResult) -> ParseResult:
    if result.report is not None:
        for rec in result.report.records:
            settle(rec, result.report.date)
    return result


# slips seen in real posts that would lose a field: 险患 for 隐患 (险患 itself is no word here), the Japanese 査 for 查
_TYPOS = {"险患": "隐患", "査": "查"}
_TYPO = re.compile(r"(?<![危风])险患|査")


class Parser:
    def __init__(self, regions: RegionTree, cfg: Config, calendar: WorkCalendar | None = None) -> None:
        self.regions = regions
        self.bot_name = cfg.bot.name
        self.calendar = calendar or WorkCalendar(cfg.schedule.extra_workdays, cfg.schedule.extra_holidays)

    def parse(self, text: str, at: datetime) -> ParseResult:
        at = at.astimezone(TZ)
        t = _TYPO.sub(lambda m: _TYPOS[m.group()], clean(text).strip())
        if classify.is_command(t, self.bot_name):
            return ParseResult("command")
        table = split_tsv(t)
        if table is not None:
            return _settled(self._table_report(*table, at))
        body = classify.strip_ack_prefix(t)
        fields = find_fields(body)  # once: the probe and the parse read the same labels
        if not self.looks_like_report(body, fields):
            return ParseResult("ack" if classify.is_ack(t) else "chatter")
        return _settled(self._report(body, at, fields))

    def parse_xlsx(self, path: Path, caption: str, at: datetime) -> ParseResult:
        title, rows, after = read_xlsx(path)
        return _settled(self._table_report(f"{caption}\n{title}".strip(), rows, after, at.astimezone(TZ)))

    def looks_like_report(self, t: str, fields: list[Field] | None = None) -> bool:
        fields = find_fields(t) if fields is None else fields
        if len(core_kinds(fields) & set(CORE)) >= 2 and "enterprise" in core_kinds(fields):
            return True
        if not _INSPECTION.search(t):
            return False
        if _SUMMARY.search(t) and (_FINDING.search(t) or _ENTERPRISE.search(t) or "检查" in t):
            return True
        return bool(_ENTERPRISE.search(t) and _FINDING.search(t)) and len(t) >= 15

    # -- shapes
    def _report(self, body: str, at: datetime, fields: list[Field]) -> ParseResult:
        groups = labelled_records(fields)
        items = [] if groups else list_items(body)
        if groups:
            header = body[: groups[0][0].start]
            records = [record_from_fields(g) for g in groups]
            grouped = {id(f) for g in groups for f in g}
            loose = [f for f in fields if id(f) not in grouped]
            named = [f for f in fields if f.kind == "inspectors"]
            if len(named) == 1 and len(groups) > 1 and _footer(body, groups[-1], named[0]):
                loose.append(named[0])  # one 检查人员 below all the records: it is everyone's
            footer = ""
        elif items:
            header = body[: items[0][0]]
            records = [record_from_item(text) for _, _, text in items]
            footer = body[items[-1][1]:]
            # a 检查人员/整改情况 line above the list or below it applies to every record
            loose = [f for f in find_fields(header) if f.kind in ("inspectors", "rectification")]
            loose += self._trailing_fields(items, records)
        else:
            header = body
            records = []
            loose = []
            footer = ""
        report = self._new_report(header, at, body)
        summary: str | None = None
        if not records and not groups:
            records, shared = narrative_records(body, report.unit)
            if records:
                header = body[: body.find(records[0].enterprise)]
            if len(records) > 1 and shared:  # `检查了A和B两家企业，未发现问题隐患`: the sentence naming them all is the summary
                anchors = short_anchors(body, [r.enterprise for r in records])
                summary = body[: anchors[0][1]] if anchors else body
                summary = summary.split("其中", 1)[0]  # `其中A存在…1处隐患` is one enterprise's count
        if summary is not None:
            report.totals = find_totals(summary)
        elif records or groups or items:
            report.totals = find_totals(header + "\n" + "\n".join(_FOOTER_TOTALS.findall(footer)))
        else:
            report.totals = find_totals(body)
        if len(records) == 1 and summary is None and report.totals["enterprises"] is None:
            stated = _ONE_STATED.search(body)  # `线上抽查XX公司1家企业`: the count of the whole report
            report.totals["enterprises"] = to_int(stated.group(1)) if stated else None
        self._apply_shared(report, records, header, loose)
        report.records = [r for r in records if r.enterprise]
        _split_by_total(report)
        self._unit_from_records(report)
        result = ParseResult("report", report, self._problems(report, len(records) - len(report.records)))
        result.review = _unsure(body, fields, report, len(records) - len(report.records))
        return result

    def _table_report(self, above: str, rows: list[dict[str, str]], below: str, at: datetime) -> ParseResult:
        report = self._new_report(above, at)
        report.totals = find_totals(above + "\n" + below)
        records = [r for r in (record_from_row(row) for row in rows) if r]
        # a row with findings but no 受检单位 is not silently dropped
        unnamed = sum(1 for row in rows if not (row.get("enterprise") or "").strip()
                      and any((row.get(k) or "").strip() not in ("", "/", "无") for k in ("hazards", "hazards_rect")))
        self._apply_shared(report, records, above, [])
        report.records = records
        self._unit_from_records(report)
        result = ParseResult("report", report, self._problems(report, unnamed))
        result.review = "缺少受检单位" if unnamed else None
        return result

    def _new_report(self, header: str, at: datetime, body: str = "") -> Report:
        unit, region, _ = find_unit(header, self.regions)
        day = find_date(header, at)
        last = body.rstrip().rsplit("\n", 1)[-1].strip() if body else ""
        if day is None and 0 < len(last) <= 16:  # a date signed at the bottom: `4月14日`
            day = find_date(last, at)
        dated = day is not None
        if day is None:
            day = self.calendar.previous_workday(at.date())
        return Report(date=day, unit=unit, region=region, dated=dated)

    def _trailing_fields(self, items: list[tuple[int, int, str]], records: list[Record]) -> list:
        """Label lines after the last item apply to every record unless the others carry their own."""
        last_text = items[-1][2]
        lines = last_text.split("\n")
        trailing = "\n".join(lines[1:])
        loose = find_fields(trailing) if trailing.strip() else []
        if not loose:
            return []
        own_elsewhere = {k for r in records[:-1] for k in ("inspectors", "rectification") if getattr(r, k)}
        shared = [f for f in loose if f.kind in ("inspectors", "rectification") and f.kind not in own_elsewhere]
        if shared:
            records[-1] = record_from_item(lines[0])
        return shared

    def _apply_shared(self, report: Report, records: list[Record], header: str, loose: list) -> None:
        """Header and footer facts that apply to every record: inspectors, unit, rectification, domain."""
        shared_names: list[str] = []
        shared_rect: str | None = None
        inspecting_unit: str | None = None
        m = _INSPECTED_BY.search(header)
        if m:
            shared_names = split_names(m.group("names"))
            inspecting_unit = m.group("unit").split("：")[-1].split(":")[-1]
        for f in loose:
            if f.kind == "inspectors":
                shared_names = split_names(f.value) or shared_names
            elif f.kind == "rectification" and f.value not in ("", "无", "/"):
                shared_rect = f.value
        if shared_rect is None:
            shared_rect = _summary_rectification(header)
        header_domain = label_domain(header)
        for rec in records:
            if not rec.inspectors and shared_names:
                rec.inspectors = list(shared_names)
            if rec.inspecting_unit is None and inspecting_unit:
                rec.inspecting_unit = inspecting_unit
            if rec.hazards and not rec.rectification and shared_rect:
                rec.rectification = shared_rect
            rec.domain = decide([label_domain(rec.inspecting_unit), header_domain], rec.enterprise, rec.hazards)

    def _unit_from_records(self, report: Report) -> None:
        """No unit in the title: the bureau named as 检查单位 reports; `应急局` in the title, `应急管理局`
        as 检查单位: keep the full name."""
        if report.unit and report.unit.endswith("应急局"):
            full = report.unit[: -len("应急局")] + "应急管理局"
            if any(r.inspecting_unit == full for r in report.records):
                report.unit = full
        if report.unit is None and report.records and report.records[0].inspecting_unit:
            unit, region, end = find_unit(report.records[0].inspecting_unit, self.regions)
            if unit and end == len(report.records[0].inspecting_unit):
                report.unit, report.region = unit, region

    def _problems(self, report: Report, unnamed: int = 0) -> list[str]:
        problems: list[str] = ["缺少受检单位"] * bool(unnamed)
        many = len(report.records) > 1
        for i, rec in enumerate(report.records, 1):
            prefix = f"第{i}条" if many else ""
            if not rec.inspectors:
                problems.append(f"{prefix}缺少检查人员")
            if rec.hazards and not rec.rectification:
                problems.append(f"{prefix}缺少整改情况")
            if rec.hazards_blank and not rec.hazards:
                problems.append(f'{prefix}未写明隐患，如无隐患请写"未发现问题隐患"')
        total = report.totals.get("hazards")
        listed = sum(len(r.hazards) for r in report.records)
        if total is not None and report.records and listed and total != listed:
            problems.append(f"合计隐患{total}处与明细{listed}处不符")
        if not report.dated:
            problems.append("未注明检查日期")
        return problems


_ONE_STATED = re.compile(rf"(?<![\d其])({NUM})\s*家\s*(?:企业|单位|生产经营单位)")
_NAMED = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{2,30}?(?:有限公司|公司|厂|加油站|加气站|煤矿|采石场|矿|零售点|批发部|油库|储备库)")
_HAZARD_TEXT = re.compile(rf"(?<![未没])发现(?!(?:的)?(?:各类|一般|安全)?(?:问题|隐患)+\s*(?:{NUM}|[，。,；;：:]|$))[^，。；;\n]{{4,}}")


def _split_by_total(report: Report) -> None:
    """`发现隐患2处` for the report and one record listing `A、B`: the stated total says the 、 separates two."""
    total = report.totals.get("hazards")
    listed = sum(len(r.hazards) for r in report.records)
    if not total or listed >= total:
        return
    joined = [(r, i) for r in report.records for i, h in enumerate(r.hazards) if "、" in h]
    if len(joined) == 1:
        rec, i = joined[0]
        parts = [x.strip() for x in rec.hazards[i].split("、") if x.strip()]
        if listed - 1 + len(parts) == total:
            rec.hazards[i:i + 1] = parts
            if rec.hazard_rectifications:
                rec.hazard_rectifications[i:i + 1] = [rec.hazard_rectifications[i]] + [None] * (len(parts) - 1)


def _footer(body: str, last: list[Field], field: Field) -> bool:
    """A label closing the message after a blank line, or after the last record's 整改情况 (the template puts
    检查人员 before it), is a footer for every record."""
    if field is not last[-1]:
        return False
    before = last[-2] if len(last) > 1 else None
    gap = body[before.start if before else 0: field.start]
    return bool(re.search(r"\n[ \t]*\n\s*$", gap)) or any(f.kind == "rectification" for f in last[:-1])


def _unsure(body: str, fields: list[Field], report: Report, unnamed: int) -> str | None:
    """A report that names enterprises or hazards but yields no records, or fewer than it states, is not trusted."""
    if unnamed:
        return "缺少受检单位"
    stated = report.totals.get("enterprises")
    if report.records and not (stated and len(report.records) < stated):
        return None  # the common case: nothing to doubt, no need to look for names
    named = [n for n in _NAMED.findall(body) if is_enterprise(n)]
    if not report.records:
        if named:
            return f"未能读出受检单位（文中提到{named[0]}）"
        if _HAZARD_TEXT.search(body) or any(f.kind == "hazards" and f.value.strip() for f in fields):
            return "未能读出受检单位和隐患明细"
        return None
    if len(set(named)) > len(report.records):
        return f"只读出{len(report.records)}家企业，少于所报{stated}家"
    return None


def _summary_rectification(header: str) -> str | None:
    """`发现问题隐患四处，当场整改两处，其余两处已下达整改指令书`: what follows the count."""
    m = re.search(r"发现[^，,。；;]*?(?:隐患|问题)[^，,。；;]*?[处项条][，,](?P<rest>[^。\n]+)", header)
    if not m:
        return None
    rest = m.group("rest").strip(" ，,")
    return rest if re.match(r"(?:已|当场|现场|均|全部|立即|责令|限期)", rest) else None

