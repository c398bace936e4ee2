"""Pieces shared by the `harombe` and `harombed` command lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from harombe.config import ConfigError, HarombeConfig, load_config

err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear error line (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_or_exit(path: Path | None, overrides: dict[str, Any] | None = None) -> HarombeConfig:
    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        fail(str(exc))


def set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `tree["a"]["b"] = value` for dotted "a.b", skipping None (flag not given)."""
    if value is None:
        return
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value
