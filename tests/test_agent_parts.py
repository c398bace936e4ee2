"""The agent's small parts on their own: context trimming, the text formats, the store."""

from __future__ import annotations

import sqlite3

import pytest

from harombe.agent import context, react
from harombe.agent.store import ConversationStore, owner_of
from harombe.agent.tools import Tool
from harombe.inference.types import Message, ToolCall


def test_trimming_drops_old_tool_outputs_first_then_old_turns():
    system = Message("system", "sys")
    old_turn = [
        Message("user", "old question"),
        Message("assistant", "", [ToolCall("read_file", {"path": "a"}, "c1")]),
        Message("tool", "A" * 400, tool_call_id="c1", name="read_file"),
        Message("assistant", "old answer"),
    ]
    current = [
        Message("user", "new question"),
        Message("tool", "B" * 400, tool_call_id="c2", name="read_file"),
    ]
    messages = [system, *old_turn, *current]
    keep_from = 1 + len(old_turn)
    assert context.trim(messages, 1000, keep_from) == messages  # fits: unchanged

    trimmed = context.trim(messages, 155, keep_from)  # 620 characters: the oldest output goes
    assert [m.content for m in trimmed] == [
        "sys", "old question", "", "[tool output trimmed: 400 characters]", "old answer",
        "new question", "B" * 400,
    ]  # fmt: skip

    tight = context.trim(messages, 60, keep_from)  # 240: the old turn goes, whole
    assert [m.content for m in tight] == [
        "sys", "new question", "[tool output trimmed: 400 characters]"
    ]  # fmt: skip
    assert all(m.content in {x.content for x in messages} or "trimmed" in m.content for m in tight)


def test_react_and_json_formats_parse_strictly():
    call = react.parse('Thought: read it\nAction: read_file\nAction Input: {"path": "a.txt"}')
    assert call.call == ToolCall("read_file", {"path": "a.txt"})
    assert react.parse("Final Answer: 42\nmore").answer == "42\nmore"
    for bad in ("just text", "Action: x\nAction Input: [1]", "Action: x\nAction Input: {bad}",
                'Action: x\nAction Input: {"a": 1}\nand then more'):  # fmt: skip
        with pytest.raises(react.FormatError):
            react.parse(bad)
    assert react.parse_json('{"answer": "hi"}').answer == "hi"
    assert react.parse_json('{"tool": "t", "arguments": {"a": 1}}').call == ToolCall("t", {"a": 1})
    for bad in ("{", '{"tool": "t"}', "[]", '{"answer": 1}'):
        with pytest.raises(react.FormatError):
            react.parse_json(bad)

    async def noop(arguments):
        return ""

    tool = Tool("t", "T.", {"type": "object", "properties": {"a": {"type": "integer"}}}, noop)
    schema = react.json_schema([tool])
    assert schema["anyOf"][0]["properties"]["tool"] == {"const": "t"}
    assert schema["anyOf"][1]["required"] == ["answer"]


async def test_store_keeps_turns_atomically_and_in_wal_mode(tmp_path):
    path = tmp_path / "c.sqlite3"
    store = ConversationStore(path, "peer-1")
    await store.open()
    try:
        conversation = await store.create("a title " * 20)
        assert owner_of(conversation) == "peer-1" and owner_of("nope") is None
        turn = [
            Message("user", "hi"),
            Message("assistant", "", [ToolCall("f", {"x": 1}, "c")]),
            Message("tool", "out", tool_call_id="c", name="f"),
            Message("assistant", "ok"),
        ]
        await store.add_turn(conversation, turn, {"steps": [{"node": "n"}]}, started=1.0)
        assert await store.messages(conversation) == turn
        stored = await store.get(conversation)
        assert stored["title"] == ("a title " * 20)[:80]
        assert stored["turns"][0]["steps"] == [{"node": "n"}]
        assert await store.messages("0123456789abcdef@peer-1") is None
        with pytest.raises(sqlite3.IntegrityError):  # no turn for a conversation that is not
            await store.add_turn("0123456789abcdef@peer-1", turn, {}, started=1.0)
        assert await store.delete(conversation) and not await store.delete(conversation)
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0  # cascaded
