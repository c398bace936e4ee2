"""`harombe chat` as a person runs it: a process with a real terminal (pexpect), one-shot and
piped runs, against real peers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from support.cli_support import (
    Harombed,
    client_config,
    cluster,
    harombed,
    in_terminal,
    node_config,
    run_harombe,
    url_of,
)

from sim.fake_openai import FakeOpenAI, Reply

PROMPT = "› "


@pytest.fixture(scope="module")
def demo_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harombed]:
    """One `harombed --demo-model` (tier 0) for the whole module."""
    pytest.importorskip("xllamacpp")
    with harombed(tmp_path_factory.mktemp("demo-peer"), "demo", "--demo-model") as peer:
        yield peer


@pytest.mark.llamacpp
async def test_one_shot_prints_the_answer_and_the_node_line(demo_peer, tmp_path):
    cfg = str(client_config(tmp_path / "c.yaml"))
    proc = await run_harombe("chat", "What is 2+2?", "--peer", demo_peer.url, "--config", cfg,
                             home=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "answered by demo · tier 0"
    assert "Traceback" not in proc.stderr

    piped = await run_harombe(
        "chat", "--peer", demo_peer.url, "--config", cfg, home=tmp_path, input="Hello?\n"
    )
    assert piped.returncode == 0, piped.stderr
    assert "answered by demo · tier 0" in piped.stderr


async def test_no_peer_is_one_line_and_exit_1_as_a_process(tmp_path):
    cfg = str(client_config(tmp_path / "c.yaml"))
    proc = await run_harombe("chat", "hi", "--config", cfg, home=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no harombe peer found"), proc.stderr

    bad_tier = await run_harombe("chat", "hi", "--tier", "7", "--config", cfg, home=tmp_path)
    assert bad_tier.returncode == 2
    assert "Invalid value for '--tier'" in bad_tier.stderr
    assert "Traceback" not in bad_tier.stderr


def drive_session(url: str, home: Path, cfg: Path) -> tuple[str, int | None]:
    """The interactive session, step by step, through a pseudo-terminal; (transcript, exit)."""
    child = in_terminal("chat", "--peer", url, "--config", str(cfg), home=home)
    transcript: list[str] = []

    def expect(pattern: str) -> None:
        child.expect_exact(pattern)
        transcript.append(child.before + pattern)

    try:
        expect("/help for commands")
        expect(PROMPT)
        child.sendline("Say hello")
        expect("Hello from fake")
        expect("answered by solo · tier 0")
        expect(PROMPT)

        child.sendline("Tell me a very long story")
        expect("Once upon a")  # streaming; the rest never comes until Ctrl-C
        child.sendintr()
        expect("stopped")
        expect(PROMPT)

        child.sendline("/tier 2")
        expect("tier: 2")
        expect(PROMPT)
        child.sendline("And now?")
        expect("answered by solo · tier 0 · asked for tier 2")
        expect(PROMPT)

        child.sendline("/model nope:1b")
        expect("no peer serves nope:1b now; served: fake-model")
        child.sendline("/model auto")
        expect("model: auto")
        child.sendline("/clear")
        expect("conversation cleared")
        child.sendline("/peers")
        expect("harombe cluster seen from solo")
        child.sendline("/help")
        expect("/tier N|auto")
        child.sendline("/bogus")
        expect("unknown command /bogus")
        expect(PROMPT)
        child.sendintr()  # at the prompt: a hint, not the end
        expect("(/exit to leave)")
        expect(PROMPT)
        child.sendline("/exit")
        child.expect(pexpect.EOF)
        transcript.append(child.before)
    finally:
        child.close()
    return "".join(transcript), child.exitstatus


async def test_interactive_session_streams_stops_on_ctrl_c_and_keeps_going(tmp_path):
    stall = asyncio.Event()
    story = Reply(pieces=["Once", " upon", " a", " time", " there"], hold=stall, hold_after=3)
    async with FakeOpenAI() as fake:
        fake.script.extend([Reply(), story])
        backend = {"kind": "openai", "url": fake.url, "model": fake.model}
        try:
            async with cluster(node_config("solo", backend=backend)) as (node,):
                cfg = client_config(tmp_path / "c.yaml")
                transcript, code = await asyncio.to_thread(
                    drive_session, url_of(node), tmp_path, cfg
                )
        finally:
            stall.set()
    assert code == 0, transcript
    assert "Traceback" not in transcript
    assert " time there" not in transcript  # the stopped answer never finished
    # the follow-up carried the conversation so far, the stopped answer not included
    follow_up = fake.requests[2]["messages"]
    assert [m["role"] for m in follow_up] == ["user", "assistant", "user"]
    assert follow_up[1]["content"] == "Hello from fake"


def watch_until_ctrl_c(url: str, home: Path, cfg: Path, term: str) -> tuple[str, int | None]:
    child = in_terminal(
        "peers", "--watch", "--peer", url, "--config", str(cfg), home=home, term=term
    )
    try:
        child.expect_exact("harombe cluster seen from")
        child.expect_exact("watcher")
        child.sendintr()
        child.expect(pexpect.EOF)
        seen = child.before
    finally:
        child.close()
    return seen, child.exitstatus


@pytest.mark.parametrize("term", ["xterm-256color", "dumb"])  # a live view; a table per second
async def test_peers_watch_ends_cleanly_on_ctrl_c(tmp_path, term):
    async with cluster(node_config("watcher")) as (node,):
        cfg = client_config(tmp_path / "c.yaml")
        seen, code = await asyncio.to_thread(watch_until_ctrl_c, url_of(node), tmp_path, cfg, term)
    assert code == 0, seen
    assert "Traceback" not in seen
