"""Enterprises named inside sentences (`对A、B开展检查`, `检查了A和B两家企业`, `分别为：A、B、C`), the
inspectors named before the verb, and details given later under a short name (`恒达：…；华运：…`)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.reports.parse.numbers import NUM

SUFFIX = (
    r"(?:有限责任公司|股份有限公司|有限公司|分公司|公司|集团|厂|加油站|加气站|液化气站|充装站|储备库|油库|站|煤矿|矿|采石场|石场|场|"
    r"学校|小学|中学|幼儿园|医院|卫生院|养老院|敬老院|福利院|项目部|项目|合作社|商店|超市|商场|酒店|宾馆|仓库|中心|景区|工地|"
    r"零售点|批发部|经营部|门市部|门市|店|商行|批发行|社)"
)
_NAME = rf"[\u4e00-\u9fa5A-Za-z0-9·]{{1,40}}?{SUFFIX}(?:[（(][^（）()\n]{{1,20}}[)）])?"
_SEP = r"(?:、|，|,|和|及|与|以及)"
_VERB = (r"(?:对|到|赴|深入|走进|前往|入井检查|(?:检查|抽查|巡查|督查)(?:了)?(?!组|人员|单位|情况|内容|时间|地点|中|出|发现)"
         r"|分别为|分别是|包括)[:：]?")
_PLACE = r"(?:仓库|库房|厂区|矿区|井下|现场|作业现场|生产现场|储罐区|罐区)?"
_AFTER = rf"(?=\s*{_PLACE}\s*(?:等)?\s*(?:{NUM}\s*[家处个户])?\s*(?:企业|单位|非煤矿山|煤矿|加油站|危化品企业|烟花爆竹企业)?\s*(?:开展|进行|实施|展开|检查|督查|巡查|执法|[，,。；;：:\n]|$))"
MENTION = re.compile(rf"{_VERB}\s*(?P<list>{_NAME}(?:\s*{_SEP}\s*{_NAME})*){_AFTER}")
_NOT_ENTERPRISE = re.compile(r"\d+\s*家|[一二三四五六七八九十两]家|辖区|全市|全县|全区|各|重点|相关|部分|上述|以上|所属|有关|企业$|单位$")
# who inspected: the words right before the verb
_CUT = re.compile(r"组成|参加|参与|随|线上|线下|通过|采取|采用|先后|分别|一同|共同|联合|一行|会同|陪同|[两二三四五六七八九十\d]+\s*(?:名|人|位)|同志|等人|在|于\d")
_GROUP_PAREN = re.compile(r"(?:检查组|人员|干部|同志)[（(]([^（）()]{2,40})[)）]")


@dataclass
class Mention:
    start: int  # where the verb starts
    end: int  # where the list of names ends
    names: list[str]
    who: str  # the words before the verb in the same sentence


def find_mentions(text: str) -> list[Mention]:
    out: list[Mention] = []
    for m in MENTION.finditer(text):
        names = [n for n in _split_list(m.group("list")) if is_enterprise(n)]
        if not names:
            continue
        out.append(Mention(m.start(), m.end(), names, _who(text, m.start())))
    return out


def _split_list(listed: str) -> list[str]:
    names = []
    rest = listed
    while rest:
        m = re.match(rf"\s*({_NAME})(?:\s*{_SEP}\s*|\s*$)", rest)
        if not m:
            break
        names.append(re.sub(r"^(?:检查了?|抽查了?|巡查了?|督查了?|对|到)", "", m.group(1).strip()))
        rest = rest[m.end():]
    return names


def is_enterprise(name: str) -> bool:
    core = re.sub(r"[（(][^（）()]*[)）]$", "", name.strip())
    return len(core) >= 4 and not _NOT_ENTERPRISE.search(core)


_LOOKBACK = 200  # a sentence's subject is near its verb; looking further back would make long reports quadratic


def _who(text: str, verb: int) -> str:
    floor = max(0, verb - _LOOKBACK)
    start = max(floor - 1, *(text.rfind(c, floor, verb) for c in "。；;\n：:，,"))
    return text[start + 1: verb]


_ROLE_NAMES = re.compile(r"(?:执法人员|检查人员|驻矿(?:盯守)?人员|监管干部|工作人员|检查组成员)[:：]?\s*(?P<n>[^，,。；;\n]{2,40})")


def role_names(text: str) -> str | None:
    """`执法人员马东、刘伟参加` / `检查人员赵明、钱亮` anywhere in a sentence."""
    m = _ROLE_NAMES.search(text)
    return who_names(m.group("n")) if m else None


def who_names(who: str) -> str:
    """The part of `我局执法人员李明、王刚两名同志随…` that lists names."""
    m = _GROUP_PAREN.search(who)
    if m:
        return m.group(1)
    who = re.sub(r"^.*?(?:我局|我厅|本局|我队|我处)", "", who)
    # `队长刘洋带领陈晨、孙悦`: the leader and the led are all inspectors; titles are not names
    who = re.sub(r"带领|率领|带队", "、", who)
    who = re.sub(r"[\u4e00-\u9fa5]{0,8}?(?:大队长|副队长|队长|副局长|局长|副科长|科长|股长|处长|主任|组长|站长|所长)", "、", who)
    cut = _CUT.search(who)
    return who[: cut.start()] if cut else who


# -- details under a short name
_ANCHOR = re.compile(
    r"(?:^|(?<=[。；;\n]))\s*(?:其中|另外|此外)?[，,]?\s*(?P<x>[\u4e00-\u9fa5A-Za-z0-9]{2,24}?)"
    rf"(?:(?:存在|发现)(?:的)?(?:问题|隐患)+(?:\s*{NUM}\s*[处项条个])?)?\s*[:：]"
)
_GENERIC = re.compile(r"(?:有限责任公司|股份有限公司|有限公司|公司|企业|单位|厂家)$")


def short_anchors(text: str, names: list[str]) -> list[tuple[int, int, int]]:
    """(record index, anchor start, detail start) for each `短名：` that names one of `names`."""
    out = []
    for m in _ANCHOR.finditer(text):
        i = match_short(m.group("x"), names)
        if i is not None:
            out.append((i, m.start("x"), m.end()))
    return out


def match_short(short: str, names: list[str]) -> int | None:
    """Which full name a short name stands for: `恒达` → 公主岭市恒达机械制造有限公司, `批发企业` → …批发有限公司."""
    short = short.strip()
    if short in names:
        return names.index(short)
    core = _GENERIC.sub("", short) or short
    if len(core) < 2:
        return None
    hits = [i for i, n in enumerate(names) if core in n]
    if len(hits) == 1:
        return hits[0]
    return None
