"""Pieces shared by the `harombe` and `harombed` command lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from harombe.config import ConfigError, HarombeConfig, load_config

err_console = Console(stderr=True)


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """ "1 node", "3 nodes" (`plural_form` when adding an s is wrong)."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def _untyped_flags(params: list[Any]) -> list[Any]:
    """Flags take no value, so help shows no type for them (typer would show `<bool>`)."""
    for param in params:
        if isinstance(param, typer.core.TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class Command(typer.core.TyperCommand):
    """A command whose help lists flags by their names only."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class Group(typer.core.TyperGroup):
    """The root command group: every command under it, however deep, lists its flags by their
    names only."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        stack = [command] if command is not None else []
        while stack:
            current = stack.pop()
            _untyped_flags([*current.params, current.get_help_option(ctx)])
            stack.extend(getattr(current, "commands", {}).values())
        return command


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear error line (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def python_module_command(module: str, *args: str) -> list[str]:
    """The command line running `python -m module args` with this interpreter, importing the
    installed harombe whatever the working directory: `-P` keeps the current directory off
    `sys.path`, so a folder named `harombe` there (a clone's root) cannot shadow the package."""
    return [sys.executable, "-P", "-m", module, *args]


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
