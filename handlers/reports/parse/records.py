"""Records from the three written shapes: labelled fields, numbered lists, and narrative sentences."""
from __future__ import annotations

import re

from handlers.reports.parse.fields import MARKER, Field, find_fields, tidy
from handlers.reports.parse.hazards import NONE_FOUND, RECT_START, split_hazards
from handlers.reports.parse.mentions import find_mentions, role_names, short_anchors, who_names
from handlers.reports.parse.model import Record
from handlers.reports.parse.names import split_names

ITEM = re.compile(rf"(?m)^[ \t]*(?P<m>{MARKER})[ \t]*")
_INLINE_ITEM = re.compile(rf"(?<=[：:])[ \t]*(?P<m>{MARKER})[ \t]*")  # `XX局6月15日：1.XX公司，…` on one line
ENTERPRISE_END = re.compile(
    r"(?:有限责任公司|股份有限公司|有限公司|分公司|公司|集团|厂|加油站|加气站|站|煤矿|矿|采石场|场|学校|小学|中学|幼儿园|医院|卫生院|"
    r"养老院|敬老院|福利院|项目部|项目|合作社|商店|超市|商场|酒店|宾馆|仓库|库|中心|景区|工地|店|行|社|零售点|批发部|经营部|门市部)$"
)
_TAG = re.compile(r"[（(]([^（）()]{1,20})[）)]\s*$")
_DOMAIN_TAG = re.compile(r"涉氨|粉尘|有限空间|危化|化工|加油|煤|非煤|矿|烟花|工贸|冶金|有色|建材|使用|经营|生产|储存|重点|一般|规上|规下")
_NARR_HAZ_AFTER = re.compile(r"发现(?:的)?(?:问题)?(?:隐患)?(?:问题)?\s*(?P<n>\d+|[一二三四五六七八九十两]+)\s*[处项条个](?:问题)?(?:隐患)?"
                             r"\s*(?:[，,]\s*(?:分别|具体|主要)(?:是|为|如下)?)?\s*[:：]")
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
            name, spill = _first_clause(f.value) if not f.value.rstrip().endswith(("）", ")")) else (f.value, None)
            rec.enterprise, site = split_enterprise(name)
            rec.location = rec.location or site
            where = re.match(r"(?:地点|地址|位于)[:：]?\s*(?P<w>[^，,。；;]+)", spill or "")
            if where:
                rec.location = where.group("w").strip()
        elif f.kind == "inspecting_unit":
            rec.inspecting_unit = f.value or None
        elif f.kind == "location":
            loc, spill = _first_clause(f.value)
            rec.location = _null(loc)
            if spill:
                spilled.append(spill)
        elif f.kind in ("hazards", "hazards_rect"):
            rec.hazards_blank = not f.value.strip(" 。.；;，,")
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
    heads = _heads(body, ITEM) or _heads(body, _INLINE_ITEM)
    spans = [(m.start(), m.end()) for m in heads] or _unnumbered_heads(body)

    # numbered hazard lines inside an item (`1）配电箱无门`) stay with it: an item ends where the next one starts
    return [(start, spans[i + 1][0] if i + 1 < len(spans) else len(body),
             body[end: spans[i + 1][0] if i + 1 < len(spans) else len(body)]) for i, (start, end) in enumerate(spans)]


def _heads(body: str, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    heads = []
    for m in pattern.finditer(body):
        line_end = body.find("\n", m.end())
        if _lead_name(body[m.end(): line_end if line_end >= 0 else len(body)]):
            heads.append(m)
    return heads


def _unnumbered_heads(body: str) -> list[tuple[int, int]]:
    """Lines that start with an enterprise name and a colon (`辉南县金川油库：…`), when nothing is numbered."""
    out = []
    for m in re.finditer(r"(?m)^[ \t]*(?=\S)", body):
        line_end = body.find("\n", m.end())
        line = body[m.end(): line_end if line_end >= 0 else len(body)]
        name = _lead_name(line)
        if name and line[len(name):len(name) + 1] in ("：", ":"):
            out.append((m.start(), m.end()))
    return out


def _lead_name(item: str) -> str | None:
    m = re.match(r"\s*([^：:，,。；;\n—\t]{2,60}?)(?:\s*[（(][^）)]{1,20}[)）])?\s*(?=[：:，,。；;\n—\t]| {2,}|$)", item)
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
    rest = item[len(item) - len(item.lstrip()) + len(name):].lstrip("：:，, —")
    enterprise, site = split_enterprise(re.sub(r"^\s*(?:检查了?|抽查了?|督查了?|对)", "", name))
    fields = find_fields(rest)
    free_end = fields[0].start if fields else len(rest)
    free = rest[:free_end].strip(" ，,")
    free, names = _unlabelled_inspectors(free)
    cols = re.split(r"\t| {2,}", free.strip())
    if not names and len(cols) >= 2 and _all_names(cols[-1]):  # `1.XX加油站  无隐患  金成、李虎`
        free, names = "  ".join(cols[:-1]), split_names(cols[-1])
    rec = record_from_fields(fields) if fields else Record(enterprise="")
    rec.inspectors = rec.inspectors or names
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


_BARE_INSPECTORS = re.compile(r"(?:^|[，,。；;\s])\s*(?:检查人员|执法人员|检查组成员|驻矿人员)[:：]?\s*(?P<n>[^，,。；;\n]{2,40})(?:[，,。；;]|\s*$)")


def _all_names(text: str) -> bool:
    tokens = [t for t in re.split(r"[、,，\s]+", text.strip()) if t]
    return bool(tokens) and len(split_names(text)) == len(tokens)


def _unlabelled_inspectors(free: str) -> tuple[str, list[str]]:
    """`…，检查人员马春雷、朱文博；` at the end of an item's free text."""
    m = _BARE_INSPECTORS.search(free)
    if not m:
        return free, []
    names = split_names(m.group("n"))
    return ((free[: m.start()] + "，" + free[m.end():]).strip(" ，,"), names) if names else (free, [])


def narrative_records(body: str, unit: str | None) -> tuple[list[Record], bool]:
    """`双辽市应急管理局谢春林、蒋文杰对双辽市鑫达木业有限公司开展…检查，发现…2处隐患，已下达…`; also several
    enterprises in one sentence (`检查了A和B两家企业`), each detailed later under a short name (`A：…。B：…`).
    Also says whether one sentence named several enterprises (its counts are then the report's totals)."""
    mentions = find_mentions(body)
    records: list[Record] = []
    seen: set[str] = set()
    for i, m in enumerate(mentions):
        names = [n for n in m.names if split_enterprise(n)[0] not in seen]
        if not names:
            continue
        end = mentions[i + 1].start if i + 1 < len(mentions) else len(body)
        after = body[m.end:end]
        if i + 1 < len(mentions):
            stop = max(after.rfind("。"), after.rfind("\n"))
            after = after[: stop + 1] if stop >= 0 else after
        who = who_names(m.who)
        if unit and unit in who:
            who = who.split(unit, 1)[1]
        inspectors = split_names(who)
        if not inspectors:  # `执法人员马东、刘伟参加，对…`: named earlier in the sentence or just after
            floor = max(0, m.start - 200)
            sentence = body[max(floor - 1, body.rfind("。", floor, m.start), body.rfind("\n", floor, m.start)) + 1: end]
            inspectors = split_names(role_names(sentence))
        group = []
        for name in names:
            enterprise, site = split_enterprise(name)
            seen.add(enterprise)
            group.append(Record(enterprise=enterprise, inspecting_unit=unit, location=site, inspectors=list(inspectors)))
        if len(group) == 1:
            _narrative_hazards(group[0], after)
        else:
            _shared_details(group, after)
        records.extend(group)
    _labelled_inspectors(records, body)
    return records, any(len(m.names) > 1 for m in mentions)


def _shared_details(group: list[Record], after: str) -> None:
    """Several enterprises in one sentence: each `短名：…` that follows details one of them."""
    anchors = short_anchors(after, [r.enterprise for r in group])
    if not anchors:  # `…2家企业，未发现问题隐患`, or a finding that names its enterprise: `发现A公司DCS室脱岗1处问题`
        for rec in group:
            name, at = _named_in(after, rec.enterprise)
            if at < 0:
                continue
            rest = after[at + len(name):]
            clause = re.split(r"[，,。；;]", rest, maxsplit=1)[0]
            if "发现" in after[max(0, at - 4):at]:  # `发现A公司DCS室人员脱岗1处问题`
                stop = after.find("。", at)
                _narrative_hazards(rec, "发现" + after[at + len(name): stop if stop >= 0 else len(after)])
            elif re.match(r"存在", clause):  # `其中林海木材加工厂存在除尘设施未正常运行1处隐患`
                _narrative_hazards(rec, "发现" + clause[2:])
        return
    for j, (idx, _, detail_start) in enumerate(anchors):
        detail_end = anchors[j + 1][1] if j + 1 < len(anchors) else len(after)
        rec = group[idx]
        if rec.hazards:
            continue
        _narrative_hazards(rec, after[detail_start:detail_end], detail=True)


def _named_in(text: str, enterprise: str) -> tuple[str, int]:
    """Where the text names an enterprise, in full or without its place prefix (`林海木材加工厂`)."""
    at = text.find(enterprise)
    if at >= 0:
        return enterprise, at
    short = re.sub(r"^.*?(?:市|县|区|州)(?=.{4,})", "", enterprise, count=1)
    short = re.sub(r"^.*?(?:市|县|区|镇|乡)(?=.{4,})", "", short, count=1)
    return short, (text.find(short) if short != enterprise else -1)


def _labelled_inspectors(records: list[Record], body: str) -> None:
    """One `检查人员：…` in the message names the inspectors of every record that has none."""
    fields = [f for f in find_fields(body) if f.kind == "inspectors"]
    if len(fields) == 1:
        names = split_names(fields[0].value)
        for rec in records:
            if not rec.inspectors:
                rec.inspectors = list(names)


def _narrative_hazards(rec: Record, after: str, detail: bool = False) -> None:
    kinds = ("inspectors", "rectification", "location", "hazards", "hazards_rect")
    # a `发现…：` list is read by _narrative_body below, which keeps the rectification sentence as written
    fields = [f for f in find_fields(after) if f.kind in kinds
              and not (f.kind == "hazards" and "发现" in after[f.start:f.start + 8] and "检查发现" not in after[f.start:f.start + 8])]
    tail_hazards = False
    if fields:  # `…已责令限期整改。检查人员：朴光明、崔永哲`: labelled tails belong to the record
        after = after[: fields[0].start]
        tail = record_from_fields(fields)
        rec.inspectors = tail.inspectors or rec.inspectors
        rec.location = tail.location or rec.location
        if tail.rectification:
            rec.rectification = tail.rectification
        if tail.hazards:  # `执法人员：…。检查发现：1.…；2.…`
            rec.hazards, rec.hazard_rectifications, tail_hazards = tail.hazards, tail.hazard_rectifications, True
    own_rect = rec.rectification
    if tail_hazards:
        return
    if detail and not re.search(r"发现", after):
        rec.hazards, rect, rec.hazard_rectifications = split_hazards(after)
        rec.rectification = rect
    else:
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

        h = re.sub(r"^(?:(?:该企业|该单位|该公司|该矿|该站|企业)(?:存在|有)|存在)", "", m.group("h"))
        h = re.sub(r"[，,]?\s*(?:共|共计)$", "", h)  # `发现A，B，共2处隐患`
        hazards, _, per = split_hazards(h, to_int(m.group("n")))
        rec.hazards, rec.hazard_rectifications = hazards, per
        rest = after[m.end():].lstrip("，,")
        rec.rectification = tidy(rest, keep_stop=False) or None if rest.strip("。 ") else None
        return
    m = re.search(r"(?:发现|存在)(?:以下|如下)?(?:的)?(?:问题|隐患)+[：:]", after)
    if m:
        rec.hazards, rec.rectification, rec.hazard_rectifications = split_hazards(after[m.end():])
        return
    m = re.search(r"(?:经查|经检查|检查发现)[，,:：]?\s*(?:该企业|该单位|该公司)?(?P<h>[^。\n]+?[，,]\s*(?:共|共计)\s*(?P<n>\d+|[一二三四五六七八九十两]+)"
                  r"\s*[处项条](?:问题|隐患)*)", after)
    if m:  # `经查，该企业A，B，共2处隐患`
        rec.hazards, _, rec.hazard_rectifications = split_hazards(m.group("h"))
        rest = after[m.end():].strip(" 。，,")
        rec.rectification = tidy(rest, keep_stop=False) if rest and RECT_START.match(rest) else None
        return
    m = re.search(r"(?<![未没])(?<!前期)(?<!此前)(?<!上次)(?<!之前)发现(?!的)(?P<h>[^。\n]+)", after)
    if m and not NONE_FOUND.match(m.group("h")):
        rec.hazards, rec.rectification, rec.hazard_rectifications = split_hazards(m.group("h"))
        rest = after[m.end():].strip(" 。，,")
        if rest and not rec.rectification and RECT_START.match(rest):
            rec.rectification = tidy(rest, keep_stop=False)
