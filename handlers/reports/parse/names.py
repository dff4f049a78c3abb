"""Inspector names from a 检查人员 field or a narrative."""
from __future__ import annotations

import re

_PAREN = re.compile(r"[（(][^）)]*[）)]")
_SEP = re.compile(r"[、,，;；\s/和及与]+")
_ROLE = re.compile(
    r"^(?:.*?(?:局|厅|处|科|股|队|组|中心|办|所|站|院|委)[:：]?)?(?:驻矿盯守人员|驻矿人员|监管干部|执法人员|检查人员|工作人员|专家|同志|组长|副组长|组员|科长|股长|局长|队长)?"
)
_ROLE_GREEDY = re.compile(r"^.*(?:局|厅|处|科|股|队|组|中心|办|所|站|院|委)[:：]?")
_NAME = re.compile(r"^[\u4e00-\u9fa5·]{2,5}$")
_ANY_ROLE = re.compile(r"^.*(?:执法人员|检查人员|监管干部|工作人员|驻矿盯守人员|驻矿人员|同志)")
_NOT_NAME = re.compile(r"人员|干部|专家|同志|组长|科长|股长|局长|队长|盯守|检查|执法|监管|应急|无|等$")


def split_names(text: str | None) -> list[str]:
    if not text:
        return []
    text = _PAREN.sub("", text)
    text = re.sub(r"(?:等|共)?\s*[\d一二三四五六七八九十两]+\s*(?:人|名)\s*$", "", text.strip(" 。.；;，,"))
    names: list[str] = []
    for token in _SEP.split(text):
        raw = token.strip(" ：:。.（）()")
        token = _ROLE.sub("", _ROLE_GREEDY.sub("", raw)).strip()  # `省安科院张华`: the unit ends at its last unit word
        if not _NAME.match(token):
            token = _ROLE.sub("", raw).strip()
        if not _NAME.match(token):  # `安全生产执法人员于洋`: whatever precedes a role word
            token = _ANY_ROLE.sub("", raw).strip()
        for title in ("组长", "副组长", "专家", "同志"):
            token = token.removesuffix(title)
        if _NAME.match(token) and not _NOT_NAME.search(token) and token not in names:
            names.append(token)
    return names
