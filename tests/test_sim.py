"""The simulator: virtual clock, in-memory network, simulated backends, and small failure
scenarios on real harombe peers, checked against their invariants."""

from __future__ import annotations

import asyncio
import random

import pytest

from harombe.inference.types import BackendError, ChatRequest, GenerationOptions, Message
from sim.backends import MAC_MINI_3B, SimBackend
from sim.clock import VirtualTimeDeadlock, run
from sim.network import LinkProfile, Network
from sim.scenarios import SCENARIOS, Params, run_scenario

# -- clock ---------------------------------------------------------------------------------


def test_virtual_time_jumps_to_timers() -> None:
    async def main() -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        loop.call_at(2.5, lambda: fired.append(loop.time()))
        await asyncio.sleep(3600)
        async with asyncio.timeout(10):
            await asyncio.sleep(1)
        return loop.time(), fired

    now, fired = run(main)
    assert fired == [2.5]
    assert now == pytest.approx(3601.0)


def test_virtual_loop_runs_threads() -> None:
    async def main() -> int:
        return await asyncio.to_thread(lambda: 42)

    assert run(main) == 42


def test_a_hang_is_reported_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sim.clock.IDLE_WAIT_S", 0.01)

    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(VirtualTimeDeadlock):
        run(main)


# -- network -------------------------------------------------------------------------------


def _net(loop: asyncio.AbstractEventLoop, **kw: object) -> tuple[Network, dict[str, list]]:
    net = Network(loop, random.Random(1), link=LinkProfile(latency=0.01, jitter=0.0), **kw)
    inbox: dict[str, list] = {"a": [], "b": [], "c": []}
    for name, box in inbox.items():
        net.endpoint(name, lambda src, data, box=box: box.append((loop.time(), src, data)))
    return net, inbox


def test_frames_arrive_unchanged_after_latency() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        net, inbox = _net(loop)
        net.send("a", "b", b"\x00frame")
        await asyncio.sleep(1)
        assert inbox["b"] == [(pytest.approx(0.01), "a", b"\x00frame")]
        assert net.traffic["a"].bytes_sent == 6 and net.traffic["b"].frames_received == 1

    run(main)


def test_loss_partition_cut_and_heal() -> None:
    async def main() -> None:
        net, inbox = _net(asyncio.get_running_loop())
        net.set_loss(1.0)
        net.send("a", "b", b"x")
        net.set_loss(0.0)
        net.partition([{"a"}])
        net.send("a", "b", b"x")
        net.send("b", "c", b"y")
        net.heal()
        net.cut("a", "b")  # asymmetric: a -> b dropped, b -> a delivered
        net.send("a", "b", b"x")
        net.send("b", "a", b"z")
        await asyncio.sleep(1)
        assert [d for _, _, d in inbox["b"]] == []
        assert [d for _, _, d in inbox["c"]] == [b"y"]
        assert [d for _, _, d in inbox["a"]] == [b"z"]
        assert net.dropped == {"lost": 1, "partitioned": 2}
        assert not net.reachable("a", "b") and net.reachable("b", "c")

    run(main)


def test_loss_rate_is_roughly_honoured() -> None:
    async def main() -> int:
        net, inbox = _net(asyncio.get_running_loop())
        net.set_loss(0.2)
        for _ in range(5000):
            net.send("a", "b", b"x")
        await asyncio.sleep(1)
        return len(inbox["b"])

    assert 3800 < run(main) < 4200


def test_oversized_frames_and_bad_rates_are_refused() -> None:
    async def main() -> None:
        net, inbox = _net(asyncio.get_running_loop(), max_frame_bytes=10)
        net.send("a", "b", b"x" * 11)
        with pytest.raises(ValueError):
            net.set_loss(1.5)
        with pytest.raises(TypeError):
            net.send("a", "b", "text")  # type: ignore[arg-type]
        await asyncio.sleep(1)
        assert inbox["b"] == [] and net.dropped == {"oversize": 1}

    run(main)


def test_crash_stall_and_starve() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        net, inbox = _net(loop)
        net.send("a", "c", b"in flight")
        net.remove("c")  # crash: frames in flight vanish
        net.stall("b", 5.0)
        net.send("a", "b", b"held")
        net.send("b", "a", b"late")
        await asyncio.sleep(10)
        net.starve("a", 2.0)
        net.send("b", "a", b"starved")
        await asyncio.sleep(10)
        assert inbox["c"] == []
        assert [(round(t, 2), d) for t, _, d in inbox["b"]] == [(5.0, b"held")]
        assert [(round(t, 2), d) for t, _, d in inbox["a"]] == [
            (5.01, b"late"),
            (12.01, b"starved"),
        ]
        assert net.dropped == {"crashed": 1}

    run(main)


# -- backends ------------------------------------------------------------------------------


def _request(tokens: int) -> ChatRequest:
    return ChatRequest([Message("user", "hi")], options=GenerationOptions(max_tokens=tokens))


def test_sim_backend_streams_on_virtual_time() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        backend = SimBackend(MAC_MINI_3B, random.Random(1))
        chunks = [c async for c in backend.chat(_request(40))]
        assert chunks[-1].done and chunks[-1].completion_tokens == 40
        assert loop.time() == pytest.approx(MAC_MINI_3B.ttft + 40 / MAC_MINI_3B.tps)
        assert (await backend.health()).ok

    run(main)


def test_killed_backend_breaks_streams_in_progress() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        backend = SimBackend(MAC_MINI_3B, random.Random(1))
        loop.call_later(1.0, backend.kill)
        with pytest.raises(BackendError):
            async for _ in backend.chat(_request(400)):
                pass
        assert loop.time() == pytest.approx(1.0)
        assert backend.active == 0 and not (await backend.health()).ok

    run(main)


# -- scenarios on real peers -----------------------------------------------------------------


def _play(name: str, peers: int, duration: float, seed: int = 1):
    report = run_scenario(SCENARIOS[name], Params(peers=peers, seed=seed, duration=duration))
    assert report.ok, report.format()
    return report


def test_crash_is_detected_by_every_peer() -> None:
    report = _play("crash", peers=20, duration=30)
    assert report.crashes == 5 and len(report.detection_all) == 5
    assert report.false_deaths == 0 and report.queries.lost == 0


def test_partition_heals_into_one_view() -> None:
    report = _play("partition", peers=20, duration=40)
    assert report.expected_deaths > 0  # the sides did declare each other dead
    assert report.settle_converged_s is not None


def test_churn_loses_no_query() -> None:
    report = _play("churn", peers=24, duration=30)
    q = report.queries
    assert report.crashes == 8
    assert q.sent > 50 and q.lost == 0 and q.failed == q.failed_entry_down
    assert q.completed >= q.sent - q.failed_entry_down


def test_five_percent_loss_kills_nobody_healthy() -> None:
    report = _play("loss-5", peers=30, duration=30)
    assert report.false_deaths == 0
    assert all(d["time"] is not None for d in report.disseminations)


def test_slow_and_flapping_peers_do_not_kill_healthy_ones() -> None:
    _play("slow-node", peers=20, duration=40)
    _play("flap", peers=20, duration=40)


def test_same_seed_same_report() -> None:
    params = Params(peers=15, seed=7, duration=20)
    first = run_scenario(SCENARIOS["churn"], params).to_dict()
    second = run_scenario(SCENARIOS["churn"], params).to_dict()
    for report in (first, second):
        report.pop("wall_s"), report.pop("wall_startup_s")  # the only real-time fields
    assert first == second


# -- command lines -------------------------------------------------------------------------


def test_cli_lists_scenarios_and_rejects_bad_arguments(capsys: pytest.CaptureFixture) -> None:
    from sim.__main__ import main

    assert main([]) == 0
    listing = capsys.readouterr().out
    for name in ("crash", "partition", "churn", "loss-5", "loss-20", "slow-node", "scale"):
        assert name in listing
    for argv in (["nope"], ["crash", "--peers", "1"], ["loss-5", "--loss", "2"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2


def test_cli_refuses_a_cluster_that_does_not_fit_in_memory(capsys: pytest.CaptureFixture) -> None:
    import psutil

    from sim.__main__ import ENTRY_BYTES, MAX_PEERS, main

    if MAX_PEERS**2 * ENTRY_BYTES <= psutil.virtual_memory().available:
        pytest.skip("this machine has the memory for the largest cluster")
    with pytest.raises(SystemExit) as exit_info:
        main(["scale", "--peers", str(MAX_PEERS)])
    assert exit_info.value.code == 2
    assert "GiB" in capsys.readouterr().err


def test_cli_runs_a_scenario_and_writes_json(tmp_path, capsys: pytest.CaptureFixture) -> None:
    import json

    from sim.__main__ import main

    out = tmp_path / "report.json"
    assert main(["crash", "--peers", "12", "--duration", "12", "--json", str(out)]) == 0
    assert "detection" in capsys.readouterr().out
    assert json.loads(out.read_text())["ok"] is True


def test_bench_registry_prints_markdown(capsys: pytest.CaptureFixture) -> None:
    from sim.bench import BENCHMARKS, main

    assert {"membership", "churn", "routing", "classifier"} <= set(BENCHMARKS)
    assert main(["routing", "classifier", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "### Routing decision" in out and "| 1,000 |" in out
    assert "### Query classifier" in out
    assert "### Query classifier (dev, training: the shipped weights)" in out
    assert "(dev, fitted on the other sets)" not in out  # --quick leaves the per-set fits out
    with pytest.raises(SystemExit):
        main(["nope"])


def test_the_answer_path_bench_times_both_backends(capsys: pytest.CaptureFixture) -> None:
    from sim.bench import main

    assert main(["answer-path", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "| an OpenAI-compatible server | " in out and "| another peer | " in out
    assert out.count(" µs") == 6


def test_a_converged_start_needs_no_joins_and_still_detects_crashes() -> None:
    params = Params(peers=40, duration=20, converged_start=True)
    report = run_scenario(SCENARIOS["scale"], params)
    assert report.startup_converged_s == 0.0
    assert report.crashes == 2 and len(report.detection_all) == 2
    assert report.false_deaths == 0 and report.ok
