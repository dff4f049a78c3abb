"""帮助, 我是谁, unknown commands and bad input, through the real dispatcher."""
from __future__ import annotations

from sqlmodel import select

from models.core import RawMessage
from tests.harness import Harness


async def test_help_lists_what_the_bot_does(h: Harness) -> None:
    assert await h.say("anwei", "shenlx", "@应急助手 帮助") == "help"
    msg = h.expect_sent("我是应急助手", chat="anwei")
    assert msg.mentions[0].id == "shenlx"
    assert len(msg.text.splitlines()) <= 10


async def test_help_for_one_command_gives_its_usage_only(h: Harness) -> None:
    assert await h.say("chuzhang", "liuql", "@应急助手 帮助 隐患") == "help"
    msg = h.expect_sent("隐患清单 [地区/全省] [领域]")
    assert "我是应急助手" not in msg.text and all(line.startswith("· ") for line in msg.text.split("\u2005", 1)[1].splitlines())


async def test_whoami_shows_name_unit_region_roles(h: Harness) -> None:
    await h.say("chuzhang", "liuql", "@应急助手 我是谁")
    msg = h.expect_sent("刘庆利")
    assert "危险化学品安全监管一处" in msg.text and "省本级" in msg.text and "处长（危化品）" in msg.text


async def test_whoami_for_a_responsible_person_names_the_region(h: Harness) -> None:
    await h.say("g-jl", "jl-yb", "@应急助手 我是谁")
    assert "吉林市一把手" in h.sent[-1].text


async def test_slash_and_hash_commands_and_private_chat(h: Harness) -> None:
    await h.say("anwei", "shenlx", "/help")
    h.expect_sent("我是应急助手")
    await h.dm("liwd", "帮助")
    msg = h.expect_sent("我是应急助手", chat="dm:liwd")
    assert msg.mentions == ()


async def test_unknown_command_gets_a_hint_not_silence(h: Harness) -> None:
    assert await h.say("anwei", "shenlx", "@应急助手 给我唱首歌") == "unknown_command"
    h.expect_sent("没听懂“给我唱首歌”。发“@应急助手 帮助”查看可用指令")
    assert await h.dm("liwd", "你好") == "unknown_command"
    h.expect_sent("没听懂“你好”。发“帮助”查看可用指令", chat="dm:liwd")
    await h.say("g-jl", "ltq-bs", "@应急助手 ")  # only the mention
    assert "没听懂" not in h.expect_sent("需要什么请@我并写明指令").text
    await h.dm("liwd", "   ")  # in private there is nothing to @
    h.expect_sent("需要什么请直接写指令，如“帮助”", chat="dm:liwd")


async def test_unknown_sender_may_ask_for_help_and_is_recorded(h: Harness) -> None:
    await h.say("anwei", "wxid_stranger", "@应急助手 帮助")
    h.expect_sent("我是应急助手")
    await h.say("anwei", "wxid_stranger", "@应急助手 我是谁")  # in the group: what to ask the admin for
    reply = h.expect_sent("还没有绑定您", chat="anwei")
    assert "绑定 @" in reply.text and "您的ID：" not in reply.text and "python" not in reply.text
    await h.dm("wxid_stranger", "我是谁")  # in private: the id and the server's command too
    reply = h.expect_sent("您的ID：wxid_stranger", chat="dm:wxid_stranger")
    assert "python -m bot bind 人员编号 --sim wxid_stranger" in reply.text and "绑定 @" in reply.text
    async with h.app.sessions() as s:
        rows = (await s.exec(select(RawMessage).where(RawMessage.sender_id == "wxid_stranger"))).all()
    assert len(rows) == 3 and not any(r.sender_known for r in rows)


async def test_bad_input_is_stored_and_never_crashes(h: Harness) -> None:
    cases = ["", "   ", "😀🚒🔥" * 50, "控制\x00字符\x07测试", "长" * 20_000, "@应急助手", "@应急助手 " + "帮" * 5000]
    for text in cases:
        outcome = await h.say("anwei", "shenlx", text)
        assert outcome in {"ignored", "help", "unknown_command", "bare_mention"}, (text[:20], outcome)
    await h.say("unknown-room", "shenlx", "@应急助手 帮助")
    h.expect_sent("我是应急助手", chat="unknown-room")
    async with h.app.sessions() as s:
        rows = (await s.exec(select(RawMessage))).all()
    assert len(rows) == len(cases) + 1
    assert rows[4].text == "长" * 20_000
    assert not rows[-1].chat_known
    # the long reply was split at the outbox's size limit, nothing dropped
    assert all(len(m.text) <= h.app.cfg.outbox.max_chars for m in h.sent)
