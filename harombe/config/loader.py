"""Loading the configuration: the YAML file (bounded, no aliases), `HAROMBE_*` environment
variables, CLI overrides, merged in that order and validated, with one line per problem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harombe.config.schema import HarombeConfig

HOME_DIR = Path(os.environ.get("HAROMBE_HOME", Path.home() / ".harombe"))
DEFAULT_CONFIG_PATH = HOME_DIR / "harombe.yaml"


class ConfigError(Exception):
    """A configuration problem, already phrased for the user (one line per problem)."""


_ENV_SHORTCUTS = {
    "HAROMBE_NAME": ("node", "name"),
    "HAROMBE_TIER": ("node", "tier"),
    "HAROMBE_HOST": ("server", "host"),
    "HAROMBE_PORT": ("server", "port"),
    "HAROMBE_SEEDS": ("cluster", "seeds"),
    "HAROMBE_CLUSTER_KEY": ("security", "cluster_key"),
    "HAROMBE_CLUSTER_KEY_FILE": ("security", "cluster_key_file"),
    "HAROMBE_API_KEYS": ("security", "api_keys"),
    "HAROMBE_BACKEND": ("backend", "kind"),
    "HAROMBE_BACKEND_URL": ("backend", "url"),
    "HAROMBE_MODEL": ("backend", "model"),
}


_LIST_PATHS = {("cluster", "seeds"), ("security", "api_keys")}
_RAW_PATHS = {("security", "cluster_key"), ("security", "cluster_key_file")}


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for key, raw in environ.items():
        if key in _ENV_SHORTCUTS:
            path: tuple[str, ...] = _ENV_SHORTCUTS[key]
        elif key.startswith("HAROMBE_") and "__" in key:
            path = tuple(part.lower() for part in key[len("HAROMBE_") :].split("__"))
        else:
            continue
        if path in _LIST_PATHS:
            value: Any = [item for item in raw.split(",") if item.strip()]
        elif path in _RAW_PATHS:
            value = raw  # a key is text as given: "" must fail, not become "unset"
        else:
            value = _scalar(raw)
        _set_path(overrides, path, value)
    return overrides


def _scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `top` over `base` (dicts merge, everything else replaces)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


MAX_CONFIG_BYTES = 1024 * 1024
"""Largest config file read; a real one is a few KB (the cap stops a wrong path to a huge
file, or a hostile one, from eating memory)."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases: a config never needs them, and expanding
    them is how a few hundred bytes of YAML grow to gigabytes (billion laughs)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&, *) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes; is this a config?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not valid UTF-8 (byte {exc.start})") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where}: {problem}; fix the YAML syntax there") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections (node, server, backend, "
            f"cluster, discovery, routing, security), got {type(data).__name__}"
        )
    return data


def _is_secret(loc: tuple[int | str, ...]) -> bool:
    """Keys never reach a log or a terminal, even when they are wrong."""
    return any(isinstance(part, str) and part.endswith(("_key", "_keys")) for part in loc)


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: where, the bad value, and what is expected."""
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: {field}: unknown field; remove it or check its spelling")
            continue
        value = err.get("input")
        message = err["msg"].removeprefix("Value error, ")
        if isinstance(value, dict) and err["type"] == "value_error":
            lines.append(f"{source}: {field}: {message}")  # a whole section's check
            continue
        if isinstance(value, dict):
            shown = "a mapping"
        else:
            shown = "(hidden)" if _is_secret(err["loc"]) else repr(value)
        lines.append(f"{source}: {field}: got {shown}; expected: {message}")
    return "\n".join(lines)


def load_config(
    path: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> HarombeConfig:
    """Build the effective configuration. Raises ConfigError with a user-facing message."""
    environ = dict(os.environ if environ is None else environ)
    if path is None and environ.get("HAROMBE_CONFIG"):
        path = environ["HAROMBE_CONFIG"]
    if path is not None:
        path = Path(path).expanduser()
        if not path.exists():
            raise ConfigError(
                f"{path}: no such config file; check --config, or run "
                "`harombe cluster init` to write one"
            )
        data = _read_yaml(path)
        source = str(path)
    elif DEFAULT_CONFIG_PATH.exists():
        data = _read_yaml(DEFAULT_CONFIG_PATH)
        source = str(DEFAULT_CONFIG_PATH)
    else:
        data, source = {}, "defaults"
    data = merge(data, _env_overrides(environ))
    data = merge(data, overrides or {})
    try:
        return HarombeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None
