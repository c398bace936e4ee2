"""Bad keys and hostile config files stop `harombed` at once: one line, exit 2, no traceback,
and the key itself never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harombe.config import MAX_CONFIG_BYTES

HAROMBED = [sys.executable, "-m", "harombe.cli.daemon", "--no-mdns", "--port", "0"]

BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def run_harombed(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HAROMBE_")}
    environ |= {"HAROMBE_HOME": str(tmp_path), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    environ |= env or {}
    return subprocess.run(
        [*HAROMBED, *args], capture_output=True, text=True, env=environ, timeout=60
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("key", ["", "   ", "q7", "fifteen-chars!!"])
def test_short_or_empty_cluster_key_in_the_environment_is_refused(tmp_path, key):
    line = one_line_error(run_harombed(tmp_path, env={"HAROMBE_CLUSTER_KEY": key}))
    assert "security.cluster_key" in line and "16 characters" in line
    if key.strip():
        assert key.strip() not in line


def test_short_cluster_key_in_the_config_is_refused(tmp_path):
    config = tmp_path / "harombe.yaml"
    config.write_text('security:\n  cluster_key: "tiny"\n')
    line = one_line_error(run_harombed(tmp_path, "--config", str(config)))
    assert "security.cluster_key" in line and "tiny" not in line


def test_whitespace_key_file_is_refused(tmp_path):
    key_file = tmp_path / "cluster.key"
    key_file.write_text("  \n\n")
    line = one_line_error(run_harombed(tmp_path, "--cluster-key-file", str(key_file)))
    assert "cluster_key_file" in line and "16 characters" in line


def test_cluster_key_flag_is_gone(tmp_path):
    result = run_harombed(tmp_path, "--cluster-key", "0123456789abcdef0123")
    assert result.returncode == 2 and "No such option" in result.stderr


def test_billion_laughs_fails_fast(tmp_path):
    config = tmp_path / "bomb.yaml"
    config.write_text(BILLION_LAUGHS)
    line = one_line_error(run_harombed(tmp_path, "--config", str(config)))
    assert "aliases" in line


def test_invalid_utf8_is_one_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_bytes(b"node:\n  name: caf\xe9\n")
    line = one_line_error(run_harombed(tmp_path, "--config", str(config)))
    assert "line 2" in line and "UTF-8" in line


def test_oversize_config_is_refused_unread(tmp_path):
    config = tmp_path / "huge.yaml"
    config.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    line = one_line_error(run_harombed(tmp_path, "--config", str(config)))
    assert f"larger than {MAX_CONFIG_BYTES} bytes" in line
