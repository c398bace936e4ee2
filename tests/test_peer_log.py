"""What `harombed` says at INFO: itself, its backend, its seeds, peers coming and going, keys."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import yaml
from support.cli_support import Harombed, free_port, node_config, poll, states

from harombe.daemon import Node
from harombe.peer_log import KeyMismatchLog
from sim.fake_openai import FakeOpenAI


def local_profile(path: Path, **sections: dict) -> Path:
    data: dict = {"cluster": {"membership": {"profile": "local"}}}
    data.update(sections)
    path.write_text(yaml.safe_dump(data))
    return path


async def test_startup_backend_seeds_and_peer_changes_are_logged_at_info(tmp_path):
    backend_port, dead_seed = free_port(), f"127.0.0.1:{free_port()}"
    backend_url = f"http://127.0.0.1:{backend_port}"
    config = local_profile(tmp_path / "a.yaml", security={"cluster_key": "k" * 24})
    peer = Harombed(
        tmp_path,
        "alpha",
        "--config", str(config),
        "--backend", "openai",
        "--backend-url", backend_url,
        "--seed", dead_seed,
    )  # fmt: skip
    peer.start()
    try:
        await peer.wait_healthy()
        log = peer.log.read_text

        await poll(lambda: f"seed {dead_seed} unreachable" in log(), "the dead seed's warning")
        text = log()
        assert f"node alpha serving on 127.0.0.1:{peer.port} (tier 0)" in text
        assert re.search(
            rf"WARNING .*backend openai at {re.escape(backend_url)} is unreachable .*"
            r"check backend\.url",
            text,
        ), text
        assert f"joining through seeds: {dead_seed}" in text

        # The backend comes up: said once, with its models; the warning is not repeated.
        async with FakeOpenAI(port=backend_port) as fake:
            await poll(lambda: "answers again" in log(), "the backend to be seen again", 30)
            assert f"models: {fake.model}" in log()
        assert log().count("is unreachable (") == 1

        key = {"cluster_key": "k" * 24}
        beta_config = node_config("beta", seeds=[f"127.0.0.1:{peer.port}"], security=key)
        async with Node(beta_config) as beta:
            await poll(lambda: "peer beta (127.0.0.1:" in log() and "joined" in log(), "join")
            # beta leaves once it has heard back: a peer that knows nobody has nobody to tell
            await poll(lambda: states(beta).get("alpha") == "alive", "beta to see alpha")
        await poll(lambda: re.search(r"peer beta \(.*\) left the cluster", log()), "leave")

        # Another key: refused, and said once as a WARNING naming the address, however many
        # frames it sends.
        wrong = node_config(
            "mallory", seeds=[f"127.0.0.1:{peer.port}"], security={"cluster_key": "x" * 24}
        )
        async with Node(wrong) as mallory:
            await poll(lambda: "refused cluster frames from" in log(), "the key warning", 30)
            assert states(mallory) == {"mallory": "alive"}
        lines = [ln for ln in log().splitlines() if "refused cluster frames" in ln]
        assert len(lines) == 1 and mallory.address in lines[0] and "WARNING" in lines[0], lines
        assert "Traceback" not in log()
    finally:
        peer.stop()


async def test_a_killed_peer_is_logged_suspected_then_dead(tmp_path):
    config = local_profile(tmp_path / "c.yaml")
    watcher = Harombed(tmp_path, "watcher", "--config", str(config), "--backend", "none")
    watcher.start()
    try:
        await watcher.wait_healthy()
        assert "this peer routes requests to others" in watcher.log.read_text()
        victim = Harombed(
            tmp_path, "victim", "--config", str(config), "--backend", "none",
            "--seed", f"127.0.0.1:{watcher.port}",
        )  # fmt: skip
        victim.start()
        try:
            await victim.wait_healthy()
            await poll(lambda: "peer victim (" in watcher.log.read_text(), "victim to join")
        finally:
            assert victim.process
            victim.process.kill()
            victim.process.wait()
        await poll(lambda: "peer victim" in watcher.log.read_text() and " is dead" in
                   watcher.log.read_text(), "victim to be declared dead")  # fmt: skip
        text = watcher.log.read_text()
        assert re.search(r"WARNING .*peer victim \(.*\) suspected", text), text
    finally:
        watcher.stop()


def frame_from(address: str) -> bytes:
    payload = msgspec.msgpack.encode(["someone", address, 1, 1, 0.0, []])
    return msgspec.msgpack.encode([1, "harombe", payload, b"a mac made with another key"])


def test_key_warnings_are_rate_limited_per_address_and_bounded(caplog):
    now = [0.0]
    warner = KeyMismatchLog(interval=60.0, max_addresses=2, clock=lambda: now[0])
    for _ in range(5):
        warner.frame_refused(frame_from("10.0.0.1:8765"))
    warner.frame_refused(b"\x93not a frame")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("refused cluster frames from 10.0.0.1:8765 (name 'someone')")
    assert messages[1].startswith("refused cluster frames from an unknown address:")
    now[0] = 61.0
    warner.frame_refused(frame_from("10.0.0.1:8765"))
    assert "(4 more since the last warning)" in caplog.records[-1].getMessage()
    # Only `max_addresses` are remembered: a third address pushes out the oldest.
    warner.frame_refused(frame_from("10.0.0.2:8765"))
    warner.frame_refused(frame_from("10.0.0.3:8765"))
    before = len(caplog.records)
    warner.frame_refused(b"\x93not a frame")
    assert len(caplog.records) == before + 1


def test_key_warnings_from_ever_new_addresses_are_capped_overall(caplog):
    now = [0.0]
    warner = KeyMismatchLog(interval=60.0, per_interval=3, clock=lambda: now[0])
    for i in range(50):
        warner.frame_refused(frame_from(f"10.0.{i}.1:8765\nFAKE LOG LINE"))
    assert len(caplog.records) == 3
    assert all("\n" not in r.getMessage() for r in caplog.records)
    now[0] = 60.0
    warner.frame_refused(frame_from("10.9.9.9:8765"))
    assert "47 from other addresses not logged" in caplog.records[-1].getMessage()
