"""Which kind of message is this: command, ack, report or chatter."""
from __future__ import annotations

import re

ACK_WORDS = (
    "已收到", "收到", "收悉", "明白", "已阅", "已传达", "已转发", "已转达", "已部署", "已落实", "好的",
    "遵照执行", "按要求执行", "按要求办理", "立即落实", "马上落实", "坚决落实", "照办", "已知悉", "知悉", "了解",
)
_NEGATIVE = re.compile(
    r"没收到|未收到|没有收到|收不到|没能收到|收到了吗|收到吗|收到没|收没收到|是否收到|有没有收到|请.{0,6}收到|收到后"
    r"|收到了没|都收到|收到的[^，,。]*?(?:打不开|不对|有误|是|吗)|没明白|不明白|不太明白|明白吗|了解一下"
    r"|收到的?(?:请|后)|请回复"
    r"|收到的(?:单位|同志|人|县|区|市|各|请)|(?:不用|无需|不必|不需要)(?:再)?回复|请.{0,12}(?:转发|接龙|联系|回复|反馈)"
)
_QUESTION = re.compile(r"[？?]|[吗呢么]\s*$")
_EMOJI = re.compile(r"\[[^\[\]]{1,6}\]|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")
_PREFIX = (
    r"(?:嗯+|嗯嗯|好|好的|是|是的|OK|ok|Ok)?[，,!！\s]*"
    r"(?:[\u4e00-\u9fa5A-Za-z0-9]{1,16}?(?:局|县|区|市|州|镇|乡|街道|厅|处|科|股|办|队|组|所|站|中心|公司|委|各))?"
    r"(?:文件|通知|指令|预警|信息|消息|要求|函|提示函|部署)?"
)
# after the word: punctuation, the end, more words, or the number answered (收到#1, 收到1, 收到＃１)
_ACK = re.compile(rf"^{_PREFIX}[，,：:\s]*(?:{'|'.join(ACK_WORDS)})(?:[，,。！!\s~～…、#＃0-9０-９]|$|[\u4e00-\u9fa5])")
# a bare place before 收到: `长岭收到，已部署`, `伊通收到！`
_PLACE_ACK = re.compile(r"^[\u4e00-\u9fa5]{2,8}?(?:已)?(?:收到|收悉)(?:[，,。！!\s~～…、]|$)")
_COMMAND = re.compile(r"^(?:/|#(?!接龙)|＃(?!接龙))\S")


def is_command(text: str, bot_name: str) -> bool:
    t = text.strip()
    return bool(_COMMAND.match(t)) or t.startswith("@" + bot_name)


ACK_SCAN = 2_000  # an answer is short: past this many characters only a `#接龙` list is still one


def is_ack(text: str) -> bool:
    """Only the first ACK_SCAN characters are ever read: a 1 MB text costs what a short one does."""
    longer = len(text) > ACK_SCAN
    t = _EMOJI.sub("", text[:ACK_SCAN] if longer else text).strip()
    t = re.sub(r"^(@\S+\s*)+", "", t).strip()
    if t.startswith(("#接龙", "＃接龙")):
        return True
    if longer or not t or len(t) > 120 or _NEGATIVE.search(t) or _QUESTION.search(t):
        return False
    first_line = t.split("\n", 1)[0]
    return bool(_ACK.match(first_line) or _PLACE_ACK.match(first_line))


def is_answer(text: str, private: bool) -> bool:
    """An acknowledgement; in a private chat a bare 1 too (the warning says 回复“收到”或数字1)."""
    return is_ack(text) or (private and text.strip() in ("1", "１"))


def strip_ack_prefix(text: str) -> str:
    """`收到，马上补报。四平市…` → the report after the acknowledgement."""
    m = re.match(r"^\s*(?:\[[^\]]{1,6}\])?\s*(?:已收到|收到|明白)[，,。！!\s][^。\n]{0,12}?[。！!\n]", text)
    return text[m.end():].lstrip() if m else text
