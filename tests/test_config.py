"""Configuration: defaults, YAML, environment and flag precedence, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harombe.config import ConfigError, load_config, parse_address
from harombe.config_reference import render_reference

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "harombe.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(monkeypatch, tmp_path):
    monkeypatch.setattr("harombe.config.loader.DEFAULT_CONFIG_PATH", tmp_path / "missing.yaml")
    cfg = load_config(environ={})
    assert cfg.server.port == 8765
    assert cfg.backend.kind == "ollama"
    assert cfg.backend.resolved_url() == "http://127.0.0.1:11434"
    assert cfg.routing.fallback_strategy == "graceful"


def test_seed_notes_cluster_file_loads_and_nodes_become_seeds():
    cfg = load_config(DATA / "seed-cluster.yaml", environ={})
    assert [n.name for n in cfg.cluster.nodes] == [
        "my-macbook",
        "gaming-pc",
        "server-closet",
        "amd-workstation",
        "vast-ai-instance",
    ]
    assert cfg.cluster.nodes[2].tier == 2 and cfg.cluster.nodes[2].model == "qwen2.5:72b"
    cloud = cfg.cluster.nodes[4]
    assert (cloud.auth, cloud.kind, cloud.port) == ("token-abc123", None, None)
    assert cfg.cluster.coordinator == {"host": "localhost"}
    # Nodes of unknown kind are joined like seeds (a plain server among them is found out).
    assert cfg.cluster.seed_addresses() == [
        "macbook.local:8765",
        "192.168.1.100:8765",
        "server.home:8765",
        "workstation.local:8765",
        "203.0.113.42:8765",
    ]
    assert cfg.routing.prefer_local is True and cfg.routing.load_balance is True


def test_seed_notes_mdns_discovery_loads():
    cfg = load_config(DATA / "seed-discovery-mdns.yaml", environ={})
    assert cfg.discovery.method == "mdns" and cfg.discovery.service == "_harombe._tcp.local"
    assert cfg.discovery.uses_mdns(cfg.cluster) and not cfg.discovery.uses_seeds()
    off = load_config(DATA / "seed-discovery-mdns.yaml", {"cluster": {"mdns": False}}, environ={})
    assert not off.discovery.uses_mdns(off.cluster)  # --no-mdns wins


def test_listed_nodes_of_a_plain_kind_are_not_seeds_and_names_are_unique(tmp_path):
    path = write(
        tmp_path,
        "cluster:\n  nodes:\n"
        "    - {name: box, host: 10.0.0.2, kind: ollama, tier: 2, model: m, auth: t}\n"
        "    - {name: peer, host: 10.0.0.3, kind: harombe}\n",
    )
    cfg = load_config(path, environ={})
    assert cfg.cluster.seed_addresses() == ["10.0.0.3:8765"]
    assert cfg.cluster.nodes[0].url("ollama") == "http://10.0.0.2:11434"
    twice = write(
        tmp_path, "cluster:\n  nodes:\n    - {name: a, host: x}\n    - {name: a, host: y}\n"
    )
    with pytest.raises(ConfigError, match="node names must be unique; listed twice: a"):
        load_config(twice, environ={})
    bad = write(tmp_path, "discovery:\n  method: carrier-pigeon\n")
    with pytest.raises(ConfigError, match=r"discovery\.method"):
        load_config(bad, environ={})


def test_precedence_file_then_env_then_flags(tmp_path):
    path = write(tmp_path, "server:\n  port: 9000\nnode:\n  name: from-file\n  tier: 1\n")
    env = {"HAROMBE_PORT": "9100", "HAROMBE_NODE__NAME": "from-env", "HAROMBE_SEEDS": "a:1,b:2"}
    cfg = load_config(path, overrides={"node": {"name": "from-flag"}}, environ=env)
    assert cfg.server.port == 9100
    assert cfg.node.name == "from-flag"
    assert cfg.node.tier == 1
    assert cfg.cluster.seeds == ["a:1", "b:2"]


def test_env_nested_boolean(tmp_path):
    cfg = load_config(write(tmp_path, ""), environ={"HAROMBE_ROUTING__PREFER_LOCAL": "false"})
    assert cfg.routing.prefer_local is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("routing:\n  fallback_strategy: fast\n", "routing.fallback_strategy: got 'fast'"),
        (
            "node:\n  tier: 7\n",
            "node.tier: got 7; expected: Input should be less than or equal to 2",
        ),
        ("server:\n  port: lots\n", "server.port: got 'lots'"),
        ("servr:\n  port: 1\n", "servr: unknown field; remove it or check its spelling"),
        ("cluster:\n  seeds: ['host:99999']\n", "cluster.seeds: got ['host:99999']"),
        ("cluster:\n  nodes:\n    - host: x\n", "cluster.nodes.0.name: got"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("node: [unclosed\n", "line 2"),
    ],
)
def test_bad_files_name_the_field_and_the_fix(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    assert expected in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = write(tmp_path, "node:\n  tier: high\n")
    proc = subprocess.run(
        [sys.executable, "-m", "harombe.cli.daemon", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "node.tier: got 'high'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("host", "host:8765"),
        ("host:9", "host:9"),
        ("[::1]:80", "[::1]:80"),
        ("http://10.0.0.2:1234/", "10.0.0.2:1234"),
    ],
)
def test_parse_address(text, address):
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["host:0", "host:x", "", "a b:1"])
def test_parse_address_rejects(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_configuration_reference_matches_the_schema():
    committed = (ROOT / "docs" / "configuration-reference.md").read_text()
    assert committed.strip() == render_reference().strip(), (
        "docs/configuration-reference.md is stale: run "
        "`python -m harombe.config_reference > docs/configuration-reference.md`"
    )
