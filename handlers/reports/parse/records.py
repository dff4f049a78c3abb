"""Records from the three written shapes: labelled fields, numbered lists, and narrative sentences."""
from __future__ import annotations

import re

from handlers.reports.parse.fields import MARKER, Field, find_fields, tidy
from handlers.reports.parse.hazards import split_hazards
from handlers.reports.parse.model import Record
from handlers.reports.parse.names import split_names

ITEM = re.compile(rf"(?m)^[ \t]*(?P<m>{MARKER})[ \t]*")
ENTERPRISE_END = re.compile(
    r"(?:有限责任公司|股份有限公司|有限公司|分公司|公司|集团|厂|加油站|加气站|站|煤矿|矿|采石场|场|学校|小学|中学|幼儿园|医院|卫生院|"
    r"养老院|敬老院|福利院|项目部|项目|合作社|商店|超市|商场|酒店|宾馆|仓库|库|中心|景区|工地|店|行|社)$"
)
_TAG = re.compile(r"[（(]([^（）()]{1,20})[）)]\s*$")
_DOMAIN_TAG = re.compile(r"涉氨|粉尘|有限空间|危化|化工|加油|煤|非煤|矿|烟花|工贸|冶金|有色|建材|使用|经营|生产|储存|重点|一般|规上|规下")
_NARRATIVE = re.compile(
    r"(?P<who>[^，。；;\n]{0,60}?)(?:(?:对|到|深入|赴)(?P<ent>[^，。；;\n对]{2,40}?)(?:开展|进行|实施|展开)(?P<what>[^，。；;\n]{0,20}?检查)"
    r"|检查了?(?P<ent2>[^，。；;\n]{2,40}?)(?=[，,。]))"
)
_NARR_HAZ_AFTER = re.compile(r"发现(?:的)?(?:问题)?(?:隐患)?(?:问题)?\s*(?P<n>\d+|[一二三四五六七八九十两]+)\s*[处项条个](?:问题)?(?:隐患)?\s*[:：]")
_NARR_HAZ_BEFORE = re.compile(r"发现(?P<h>.+?)(?:等)?\s*(?P<n>\d+|[一二三四五六七八九十两]+)\s*[处项条个](?:问题)?(?:隐患)?(?:问题)?")


def split_enterprise(name: str) -> tuple[str, str | None]:
    """Drop a trailing parenthetical tag; a site tag (…项目) becomes the location."""
    name = name.strip(" ：:，,。")
    m = _TAG.search(name)
    if not m:
        return name, None
    tag = m.group(1).strip()
    base = name[: m.start()].strip()
    return base, (None if _DOMAIN_TAG.search(tag) else tag)


def record_from_fields(fields: list[Field]) -> Record:
    """One record from its labelled fields."""
    rec = Record(enterprise="")
    count = None
    spilled: list[str] = []
    for f in fields:
        if f.kind == "enterprise":
            rec.enterprise, site = split_enterprise(f.value)
            rec.location = rec.location or site
        elif f.kind == "inspecting_unit":
            rec.inspecting_unit = f.value or None
        elif f.kind == "location":
            loc, spill = _first_clause(f.value)
            rec.location = _null(loc)
            if spill:
                spilled.append(spill)
        elif f.kind in ("hazards", "hazards_rect"):
            count = f.count or count
            hazards, rect, per = split_hazards(f.value, count)
            rec.hazards.extend(hazards)
            rec.hazard_rectifications.extend(per)
            if rect and not rec.rectification:
                rec.rectification = rect
        elif f.kind == "inspectors":
            rec.inspectors = split_names(f.value)
        elif f.kind == "rectification":
            rec.rectification = _null(f.value)
    for text in spilled:
        hazards, rect, per = split_hazards(text)
        if hazards and not rec.hazards:
            rec.hazards, rec.hazard_rectifications = hazards, per
        if rect and not rec.rectification:
            rec.rectification = rect
    if not rec.hazards:
        rec.rectification = None if rec.rectification in (None, "无") else rec.rectification
    return rec


def _first_clause(value: str) -> tuple[str, str | None]:
    """`大岭镇，未发现问题隐患`: a short field ends at the first comma; the rest is free text."""
    m = re.search(r"[，,。；;]", value)
    if not m:
        return value, None
    rest = value[m.end():].strip()
    return value[: m.start()], rest or None


def _null(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return None if v in ("", "无", "/", "—", "-", "——", "暂无", "无。") else v


def labelled_records(fields: list[Field]) -> list[list[Field]]:
    """Group fields into records: a field kind seen again starts the next record."""
    groups: list[list[Field]] = []
    seen: set[str] = set()
    for f in fields:
        kind = "hazards" if f.kind == "hazards_rect" else f.kind
        if kind in ("date", "ignore"):
            continue
        if not groups or kind in seen:
            groups.append([])
            seen = set()
        groups[-1].append(f)
        seen.add(kind)
    return [g for g in groups if any(f.kind == "enterprise" for f in g)]


def list_items(body: str) -> list[tuple[int, int, str]]:
    """Numbered items (1. / 一、 / （1） / ①) at line starts that begin with an enterprise name."""
    marks = list(ITEM.finditer(body))
    items = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        items.append((m.start(), end, body[m.end():end]))
    return [it for it in items if _lead_name(it[2])]


def _lead_name(item: str) -> str | None:
    m = re.match(r"\s*([^：:，,。；;\n]{2,60}?)(?:\s*[（(][^）)]{1,20}[)）])?\s*(?=[：:，,。；;\n]|$)", item)
    if not m:
        return None
    name = m.group(1).strip()
    full = item[: m.end()].strip()
    if any(f.start == 0 for f in find_fields(full + "：x")):
        return None  # a label such as 检查单位, not a name
    return full if ENTERPRISE_END.search(name) else None


def record_from_item(item: str) -> Record:
    """`1.XX公司：问题…。检查人员：…` or `一、XX公司，地点:…，问题:…`."""
    name = _lead_name(item) or ""
    rest = item[len(item) - len(item.lstrip()) + len(name):].lstrip("：:，, ")
    enterprise, site = split_enterprise(name)
    fields = find_fields(rest)
    free_end = fields[0].start if fields else len(rest)
    free = rest[:free_end].strip(" ，,")
    rec = record_from_fields(fields) if fields else Record(enterprise="")
    rec.enterprise = enterprise
    rec.location = rec.location or site
    if free:
        hazards, rect, per = split_hazards(free)
        if hazards and not rec.hazards:
            rec.hazards, rec.hazard_rectifications = hazards, per
        if rect and not rec.rectification:
            rec.rectification = rect
    if not rec.hazards:
        rec.rectification = None
    return rec


def narrative_records(body: str, unit: str | None) -> list[Record]:
    """`双辽市应急管理局谢春林、蒋文杰对双辽市鑫达木业有限公司开展…检查，发现…2处隐患，已下达…`."""
    matches = [m for m in _NARRATIVE.finditer(body) if _is_enterprise(m.group("ent") or m.group("ent2"))]
    records = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        after = body[m.end():end]
        if i + 1 < len(matches):
            stop = max(after.rfind("。"), after.rfind("\n"))
            after = after[: stop + 1] if stop >= 0 else after
        enterprise, site = split_enterprise(m.group("ent") or m.group("ent2"))
        who = m.group("who")
        if unit and unit in who:
            who = who.split(unit, 1)[1]
        who = re.sub(r"^.*?(?:我局|我厅|本局)", "", who)
        rec = Record(enterprise=enterprise, inspecting_unit=unit, location=site, inspectors=split_names(who))
        _narrative_hazards(rec, after)
        records.append(rec)
    return records


def _narrative_hazards(rec: Record, after: str) -> None:
    fields = [f for f in find_fields(after) if f.kind in ("inspectors", "rectification", "location")]
    if fields:  # `…已责令限期整改。检查人员：朴光明、崔永哲`: labelled tails belong to the record
        after = after[: fields[0].start]
        tail = record_from_fields(fields)
        rec.inspectors = tail.inspectors or rec.inspectors
        rec.location = tail.location or rec.location
        if tail.rectification:
            rec.rectification = tail.rectification
    own_rect = rec.rectification
    _narrative_body(rec, after)
    rec.rectification = own_rect or rec.rectification


def _narrative_body(rec: Record, after: str) -> None:
    m = _NARR_HAZ_AFTER.search(after)
    if m:
        from handlers.reports.parse.numbers import to_int

        hazards, rect, per = split_hazards(after[m.end():], to_int(m.group("n")))
        rec.hazards, rec.rectification, rec.hazard_rectifications = hazards, rect, per
        return
    m = _NARR_HAZ_BEFORE.search(after)
    if m and len(m.group("h")) > 3:
        from handlers.reports.parse.numbers import to_int

        hazards, _, per = split_hazards(m.group("h"), to_int(m.group("n")))
        rec.hazards, rec.hazard_rectifications = hazards, per
        rest = after[m.end():].lstrip("，,")
        rec.rectification = tidy(rest, keep_stop=False) or None if rest.strip("。 ") else None
        return
    m = re.search(r"发现(?:的)?(?:问题|隐患)+[：:]", after)
    if m:
        rec.hazards, rec.rectification, rec.hazard_rectifications = split_hazards(after[m.end():])


def _is_enterprise(name: str) -> bool:
    name = name.strip()
    if re.search(r"\d+\s*家|辖区|各|全市|全县|企业$", name):
        return False
    return bool(ENTERPRISE_END.search(split_enterprise(name)[0]))
