"""Labelled fields: 检查单位：…, 【受检单位】…, 1、检查人员:… in any order and punctuation."""
from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.reports.parse.numbers import NUM

LABELS: dict[str, tuple[str, ...]] = {
    "inspecting_unit": ("检查单位", "检查部门", "执法单位", "检查机构"),
    "enterprise": ("受检单位", "被检单位", "被检查单位", "受检企业", "被检企业", "被检查企业", "检查企业", "企业名称",
                   "单位名称", "检查对象"),
    "location": ("检查地点", "检查地址", "企业地址", "地点", "地址"),
    "hazards_rect": ("问题隐患及整改情况", "问题隐患及整改", "隐患及整改情况", "问题及整改情况", "问题及整改"),
    "hazards": ("检查发现", "存在以下问题", "存在如下问题", "存在以下隐患", "存在以下问题隐患", "发现以下问题", "发现如下问题", "发现以下隐患",
                "发现的问题隐患", "发现问题隐患", "发现的隐患", "发现隐患", "发现的问题", "发现问题", "问题隐患", "存在问题",
                "存在的问题", "隐患问题", "主要问题", "隐患", "问题"),
    "inspectors": ("检查人员均为", "检查人员为", "检查人员", "检查人", "执法人员", "检查组成员", "检查组", "驻矿盯守人员", "驻矿人员", "盯守人员", "执法检查人员",
                   "人员"),
    "rectification": ("整改情况", "整改措施", "整改落实情况", "整改结果", "处理情况", "处理意见", "整改"),
    "date": ("检查日期", "检查时间"),
    "ignore": ("检查内容", "检查方式", "序号", "备注", "检查情况"),
}
CORE = ("inspecting_unit", "enterprise", "location", "hazards", "inspectors", "rectification", "hazards_rect")
_BY_NAME = {name: kind for kind, names in LABELS.items() for name in names}
_NAMES = sorted(_BY_NAME, key=len, reverse=True)
MARKER = (r"(?:[（(]\s*[\d一二三四五六七八九十]{1,3}\s*[)）]|[\d]{1,3}\s*(?:[、.．]|[)）](?!\d))|[一二三四五六七八九十]{1,3}\s*[、.．]"
          r"|[一二三四五六七八九十]{1,2}是(?=[\u4e00-\u9fa5A-Za-z0-9])|[①-⑳])")
_LABEL = re.compile(
    rf"(?:(?<=^)|(?<=[\n；;。，,\s：:（()）])|(?<=[^\d]\.))[ \t]*{MARKER}?[ \t]*(?:(?:以上|上述)(?:各?企业|各?单位)?)?"
    rf"(?:【\s*(?P<b>{'|'.join(_NAMES)})\s*】[:：]?"
    rf"|(?P<u>受检单位|被检单位|被检查单位|受检企业|被检企业)(?=[\u4e00-\u9fa5A-Za-z0-9])"
    rf"|(?P<c>发现(?:的)?(?:问题)?(?:隐患)?(?:问题)?\s*(?P<n>{NUM})\s*[处项条个])\s*[:：]"
    rf"|(?P<l>{'|'.join(_NAMES)})\s*[:：])"
    rf"|【\s*(?P<b2>{'|'.join(_NAMES)})\s*】[:：]?"  # bracketed labels need no separator: `…】…【检查人员】…` on one line
)


@dataclass
class Field:
    kind: str
    value: str
    start: int  # where the label starts
    end: int  # where the value ends
    count: int | None = None
    sentence_sep: bool = False  # the label follows a "。": values end in sentence stops we drop


def find_fields(text: str) -> list[Field]:
    from handlers.reports.parse.numbers import to_int

    fields: list[Field] = []
    matches = list(_LABEL.finditer(text))
    for i, m in enumerate(matches):
        name = m.group("b") or m.group("l") or m.group("u") or m.group("b2")
        kind = _BY_NAME[name] if name else "hazards"
        count = to_int(m.group("n")) if m.group("c") else None
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        fields.append(Field(kind, text[m.end():end], m.start(), end, count, _after_stop(text, m.start())))
    for i, f in enumerate(fields):
        nxt = fields[i + 1] if i + 1 < len(fields) else None
        f.value = tidy(f.value, keep_stop=not (nxt and nxt.sentence_sep) and not f.sentence_sep)
    return fields


def _after_stop(text: str, pos: int) -> bool:
    """Whether the last non-blank character before `pos` is a 。 (without copying the prefix)."""
    i = pos - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i >= 0 and text[i] == "。"


def tidy(value: str, keep_stop: bool = True) -> str:
    value = value.strip(" \t\n；;，,、")
    if not keep_stop:
        value = value.rstrip("。.")
    return value.strip()


def core_kinds(fields: list[Field]) -> set[str]:
    return {f.kind for f in fields if f.kind in CORE}


def label_kind(header: str) -> str | None:
    """Map a table column header to a field kind."""
    h = re.sub(r"\s", "", header)
    if h in _BY_NAME:
        return _BY_NAME[h]
    for name in _NAMES:
        if name in h and len(name) >= 3:
            return _BY_NAME[name]
    return None
