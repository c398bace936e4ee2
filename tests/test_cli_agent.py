"""`harombe chat --new/--resume/--tools` and `harombe conversations` as a person runs them:
processes (one with a real terminal, for the y/N confirmation) against a real peer whose model
is scripted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pexpect
from support.cli_support import (
    client_config,
    cluster,
    in_terminal,
    node_config,
    run_harombe,
    url_of,
)

from sim.fake_openai import FakeOpenAI, Reply


def agent_peer(fake: FakeOpenAI, tmp: Path, **agent):
    return node_config(
        "desk",
        backend={"kind": "openai", "url": fake.url, "model": fake.model},
        agent={"data_dir": str(tmp / "data"), "workspace": str(tmp / "ws"), **agent},
    )


async def test_chat_with_tools_then_resume_and_manage_conversations(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "todo.txt").write_text("buy milk")
    async with FakeOpenAI("small") as fake, cluster(agent_peer(fake, tmp_path)) as (node,):
        fake.script.extend([Reply(pieces=[], tool_call=("list_dir", {"path": "."})),
                            Reply(pieces=["There is ", "todo.txt."])])  # fmt: skip
        cfg = str(client_config(tmp_path / "c.yaml"))
        common = ["--peer", url_of(node), "--config", cfg]
        first = await run_harombe("chat", "--tools", "What files are there?", *common,
                                  home=tmp_path)  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == "There is todo.txt."
        lines = first.stderr.strip().splitlines()
        assert lines[0] == "step 1 · desk · tier 0 · small"
        assert lines[1] == '→ list_dir {"path": "."}'
        assert lines[2] == "← ok: todo.txt"
        assert lines[3] == "step 2 · desk · tier 0 · small"
        conversation = lines[-1].removeprefix("conversation ")
        assert conversation.endswith("@desk")

        fake.script.append(Reply(pieces=["You asked about files."]))
        again = await run_harombe("chat", "--resume", conversation, "What did I ask?", *common,
                                  home=tmp_path)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == "You asked about files."
        assert "tools" not in fake.requests[-1]  # without --tools no tool is offered
        history = [m["content"] for m in fake.requests[-1]["messages"] if m["role"] == "user"]
        assert history == ["What files are there?", "What did I ask?"]

        listed = await run_harombe("conversations", *common, home=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert conversation in listed.stdout and "What files are there?" in listed.stdout
        shown = await run_harombe("conversations", "show", conversation, *common, home=tmp_path)
        assert shown.returncode == 0, shown.stderr
        for text in ("turn 0: desk tier 0 · desk tier 0", '→ list_dir {"path": "."}',
                     "user: What did I ask?", "assistant: You asked about files."):  # fmt: skip
            assert text in shown.stdout, shown.stdout
        gone = await run_harombe("conversations", "delete", conversation, *common, home=tmp_path)
        assert gone.returncode == 0 and f"deleted {conversation}" in gone.stdout
        missing = await run_harombe("conversations", "show", conversation, *common,
                                    home=tmp_path)  # fmt: skip
        assert missing.returncode == 1 and "no conversation" in missing.stderr
        both = await run_harombe("chat", "--new", "--resume", conversation, "x", *common,
                                 home=tmp_path)  # fmt: skip
        assert both.returncode == 2 and "exclude each other" in both.stderr


def confirm_in_terminal(url: str, home: Path, cfg: Path, answers: list[str]) -> str:
    child = in_terminal(
        "chat", "--tools", "--peer", url, "--config", str(cfg), home=home, columns=160
    )
    transcript: list[str] = []

    def expect(pattern: str) -> None:
        child.expect_exact(pattern)
        transcript.append(child.before + pattern)

    try:
        expect("› ")
        for answer in answers:
            child.sendline("make a file")
            expect('allow shell {"command": "touch made.txt"}? [y/N] ')
            child.sendline(answer)
            expect("conversation ")
            expect("› ")
        child.sendline("/exit")
        child.expect(pexpect.EOF)
        transcript.append(child.before)
    finally:
        child.close()
    return "".join(transcript)


async def test_chat_asks_y_or_n_for_the_shell(tmp_path):
    async with FakeOpenAI("small") as fake, cluster(agent_peer(fake, tmp_path)) as (node,):
        touch = Reply(pieces=[], tool_call=("shell", {"command": "touch made.txt"}))
        fake.script.extend([touch, Reply(pieces=["Done."]), touch, Reply(pieces=["Done."])])
        cfg = client_config(tmp_path / "c.yaml")
        transcript = await asyncio.to_thread(
            confirm_in_terminal, url_of(node), tmp_path, cfg, ["n", "y"]
        )
    assert "← failed: denied" in transcript, transcript
    assert "← ok: exit status 0" in transcript, transcript
    assert (tmp_path / "ws" / "made.txt").exists()
    assert "Traceback" not in transcript
