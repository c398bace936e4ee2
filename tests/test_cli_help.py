"""Help and output wording: real flag names (never typer's `<bool>`), singular and plural."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from harombe.cli.cluster import status_summary
from harombe.cli.daemon import app as harombed
from harombe.cli.main import app as harombe


@pytest.mark.parametrize(
    ("app", "args"),
    [
        (harombe, ["--help"]),
        (harombe, ["peers", "--help"]),
        (harombe, ["cluster", "--help"]),
        (harombe, ["cluster", "init", "--help"]),
        (harombe, ["doctor", "--help"]),
        (harombed, ["--help"]),
    ],
)
def test_help_names_flags_without_a_bool_placeholder(app, args):
    result = CliRunner().invoke(app, args, env={"COLUMNS": "160", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_harombed_help_shows_flags_and_value_names():
    result = CliRunner().invoke(harombed, ["--help"], env={"COLUMNS": "160", "NO_COLOR": "1"})
    assert "--no-mdns" in result.output and "--demo-model" in result.output
    assert "--no-demo-model" not in result.output
    assert "HOST:PORT" in result.output


def test_status_summary_counts_in_words():
    one = {"node": "a", "nodes": [{"name": "a", "state": "alive"}]}
    assert "seen from a: 1 node (1 alive)" in status_summary(one)
    two = {"node": "a", "nodes": [{"name": "a", "state": "alive"}, {"name": "b", "state": "dead"}]}
    assert "2 nodes (1 alive, 1 dead)" in status_summary(two)
