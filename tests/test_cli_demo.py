"""`harombe demo` end to end: three `harombed` processes, the workflows, a kill -9, recovery."""

from __future__ import annotations

import re

import psutil
import pytest
from support.cli_support import run_harombe

from harombe.cli.demo import WORKFLOWS
from harombe.routing.classifier import explain


def test_the_demo_prompts_fit_the_demo_model_and_keep_their_tiers():
    for expected, (label, prompt) in enumerate(WORKFLOWS):
        assert explain([{"role": "user", "content": prompt}]).tier == expected, label
        assert len(prompt) < 1500, label  # a byte per token, 2,048 tokens of training context


def daemons_on(ports: set[int]) -> list[psutil.Process]:
    """`harombed` processes still listening on (started with) one of `ports`."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "harombe.cli.daemon" in cmdline and any(str(p) in cmdline for p in ports):
            found.append(proc)
    return found


@pytest.mark.llamacpp
async def test_demo_routes_kills_falls_back_and_recovers(tmp_path):
    pytest.importorskip("xllamacpp")
    # Started from the folder that holds a clone: a `harombe` folder in the current directory
    # (here one that breaks any import of it) must not shadow the installed package in the
    # peers the demo starts.
    decoy = tmp_path / "harombe"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the clone folder, not the package')\n")
    proc = await run_harombe(
        "demo",
        home=tmp_path,
        limit_s=170,
        env={"TMPDIR": str(tmp_path), "COLUMNS": "200"},
        cwd=tmp_path,
    )
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr

    ports = {int(p) for p in re.findall(r"demo-tier\d on http://127\.0\.0\.1:(\d+)", out)}
    assert len(ports) == 3, out
    assert "all three peers see each other alive" in out

    routed = re.findall(r"(quick question|paper analysis|meta-analysis) classified tier (\d) → "
                        r"(demo-tier\d) \(tier (\d)\)", out)  # fmt: skip
    assert routed[:3] == [
        ("quick question", "0", "demo-tier0", "0"),
        ("paper analysis", "1", "demo-tier1", "1"),
        ("meta-analysis", "2", "demo-tier2", "2"),
    ], out
    after_kill, after_restart = routed[3], routed[4]
    assert after_kill[1] == "2" and after_kill[2] != "demo-tier2", out
    assert re.search(r"fallback .*demo-tier2", out), out
    assert "both survivors mark demo-tier2 dead" in out
    assert "demo-tier2 is alive again everywhere" in out
    assert after_restart[1] == "2", out
    assert "stopped every demo peer" in out
    assert daemons_on(ports) == []
