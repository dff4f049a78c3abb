"""Split a hazard description into distinct hazards and the rectification written with them."""
from __future__ import annotations

import re

from handlers.reports.parse.fields import MARKER
from handlers.reports.parse.numbers import NUM, to_int

NONE_FOUND = re.compile(
    r"^[—\-－～~:：\s]*(?:经检查|经查|经现场检查|现场检查|检查中|检查时|检查)?[，,]?(?:未发现(?:任何|明显)?(?:安全)?(?:问题)?(?:隐患)?(?:问题)?|无(?:明显)?(?:安全)?(?:问题)?(?:隐患)?(?:问题)?|没有发现(?:问题)?(?:隐患)?"
    r"|未查出(?:问题)?(?:隐患)?|未见异常|(?:检查)?(?:情况)?(?:一切)?正常|/|—+|-+)[。.；;，,！!]?"
)
RECT_START = re.compile(
    r"^[（(]?(?:已|均已|均|全部|责令|限期|当场|现场|立即|要求|下达|督促|正在|其余|企业已|该企业已|对该|约谈|停产|停止|暂扣|罚款|处罚|立案|移交|"
    r"立行立改|以上|上述|其中|执法人员|检查组|我局|已对|现场下达|当场下达|另\s*[\d一二两三四五六七八九十]*\s*[处项条]|"
    r"[\d一二两三四五六七八九十]+\s*[处项条](?:隐患|问题)?(?:已|均已|当场|现场|限期|责令|立即|立行立改)|"
    r"第\s*[\d①-⑳一二三四五六七八九十、，,（()）]+\s*[项条处])"
)
# a note after one hazard: `（当场整改）`, `（已整改）`, `（限期3日整改）`
_NOTE = re.compile(r"\s*[（(](?P<n>(?![未没不])[^（）()]*?(?:整改|当场|现场|限期|责令|立行立改|完成|清理|更换|修复|处理)[^（）()]*)[)）]\s*$")
_STATED = re.compile(rf"\s*(?:[，,]\s*(?:共|共计)|等|共)?\s*(?P<n>{NUM})\s*[处项条个](?:问题|隐患|安全隐患)*(?=\s*(?:[，,。；;]|$))")
_ETC = re.compile(r"等(?:问题|隐患|安全隐患|情况)+\s*[。.]?$")
_LEAD_COUNT = re.compile(rf"^\s*发现(?:的)?(?:问题)?(?:隐患)?(?:问题)?\s*(?P<n>{NUM})\s*[处项条个](?:问题)?(?:隐患)?\s*[:：,，]"
                         r"\s*(?:(?:分别|具体|主要)(?:是|为|如下)?[:：]?)?\s*")
_NOTE_LIST = re.compile(r"([（(][^（）()]*(?:整改|当场|现场|限期|责令|立行立改)[^（）()]*[)）])\s*[、，,]")
_LEAD_FOUND = re.compile(r"^(?:检查中)?发现(?:的)?(?:问题|隐患)*[:：]?\s*(?:该企业|该单位|企业)?(?=[^\s，,。；;：:])")
_MARK = re.compile(rf"^\s*{MARKER}\s*")
_BREAK = re.compile(rf"(?:(?<=^)|(?<=[；;。\n\s]))\s*(?={MARKER})|(?<=[）)])(?=\d{{1,2}}[、.．])|(?<=[^\s；;。])(?=[①-⑳])|[；;\n]|。(?=\s*\S)|(?<![\d.])\.(?=\s*[^\d\s])")


def split_hazards(text: str, count: int | None = None) -> tuple[list[str], str | None, list[str | None]]:
    """(hazards, rectification found in the text, per-hazard rectification)."""
    text = text.strip()
    if not text or (NONE_FOUND.match(text) and len(NONE_FOUND.match(text).group()) >= len(text.rstrip("。.；;"))):
        return [], None, []
    if NONE_FOUND.match(text):
        rest = text[NONE_FOUND.match(text).end():].strip(" ，,。")
        return [], (rest if RECT_START.match(rest) else None), []
    lead = _LEAD_COUNT.match(text)
    if lead:  # `发现隐患2处,罐区防火堤破损,…`
        count = count or to_int(lead.group("n"))
        text = text[lead.end():]
    stated = _STATED.search(text)
    if stated and stated.start() > 0:  # `有限空间未设置警示标识、筒仓作业未审批2处问题`
        count = count or to_int(stated.group("n"))
        text = text[: stated.start()] + text[stated.end():]
    text = _LEAD_FOUND.sub("", text)
    text = _NOTE_LIST.sub(r"\1；", text)  # `A（当场整改）、B（限期10日）`: a note ends its hazard
    pieces = _pieces(text)
    hazards: list[str] = []
    per: list[str | None] = []
    rect_parts: list[str] = []
    in_rect = False
    for piece, sep in pieces:
        if in_rect or (RECT_START.match(piece) and hazards):
            in_rect = True
            rect_parts.append(piece + ("" if sep is None else sep))
            continue
        marker = _MARK.match(piece)
        body = piece[marker.end():] if marker else piece
        body, own = _own_rectification(body)
        body = _ETC.sub("", body.rstrip(" 。.；;，,"))
        note = _NOTE.search(body)
        if note and note.start() > 0:
            body = body[: note.start()]
            if re.search(r"第\s*[\d①-⑳一二三四五六七八九十]", note.group("n")):
                rect_parts.append(note.group("n"))  # `（第1、2项当场整改，第3项限期整改）` speaks of all
            else:
                own = own or note.group("n")
        clause, rest = _clause_rectification(body)
        if clause and rest is not None:
            body = clause
            rect_parts.append(rest)
        body = body.strip(" 。.；;，,")
        etc = _ETC.search(body)
        if etc:  # `A、B等问题`: the list before 等 is the hazards
            body = body[: etc.start()].strip()
            parts = [x.strip() for x in body.split("、")]
            if len(parts) > 1 and all(len(x) >= 5 for x in parts):
                hazards.extend(parts[:-1])
                per.extend([None] * (len(parts) - 1))
                body = parts[-1]
        if body:
            hazards.append(body)
            per.append(f"{marker.group().strip() if marker else ''}{own}" if own else None)
    if count and len(hazards) == 1 and count > 1:
        hazards = _split_by_count(hazards[0], count)
        per = [None] * len(hazards)
    rect = "；".join(p.strip(" ；;，,") for p in rect_parts if p.strip(" ；;，,")) or None
    if any(per):
        rect = "；".join(p for p in per if p) + (f"；{rect}" if rect else "")
    return hazards, rect, per


def _pieces(text: str) -> list[tuple[str, str | None]]:
    """Cut at numbering, ；, line ends and sentence stops; remember a stop that ends a piece."""
    out: list[tuple[str, str | None]] = []
    last = 0
    for m in _BREAK.finditer(text):
        piece = text[last:m.start()]
        stop = "。" if m.group() == "。" else None
        if piece.strip():
            out.append((piece.strip(), stop))
        last = m.end()
    tail = text[last:].strip()
    if tail:
        out.append((tail, None))
    return out


def _own_rectification(body: str) -> tuple[str, str | None]:
    """`液氨储罐区无防护用品柜——已当场配备`: a rectification per hazard."""
    m = re.search(r"\s*(?:——|--|—|->|→)\s*", body)
    if m and m.start() > 0:
        return body[: m.start()], body[m.end():].strip(" 。.；;")
    return body, None


def _clause_rectification(body: str) -> tuple[str, str | None]:
    """`筒仓入口未设置警示标识，已当场整改`: the clause after the comma is the rectification."""
    parts = re.split(r"[，,]", body)
    for i in range(1, len(parts)):
        if RECT_START.match(parts[i].strip()):
            hazard = "，".join(parts[:i])
            rect = body[len(hazard) + 1:].strip().rstrip("。.")
            return hazard, rect
    return body, None


def _split_by_count(hazard: str, count: int) -> list[str]:
    for sep in ("、", "，", ","):
        parts = [p.strip(" 。.") for p in hazard.split(sep) if p.strip()]
        if len(parts) == count:
            return parts
    return [hazard]
