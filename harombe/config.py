"""The whole harombe configuration: pydantic models, YAML loading, env and CLI overrides.

Precedence, lowest first: defaults, the YAML file (`--config PATH`, else
`~/.harombe/harombe.yaml` if it exists), `HAROMBE_*` environment variables, CLI flags.
Environment variables name a field by its path: `HAROMBE_SERVER__PORT=9000`,
`HAROMBE_ROUTING__PREFER_LOCAL=false`; a few shortcuts exist (`HAROMBE_PORT`, `HAROMBE_NAME`,
`HAROMBE_TIER`, `HAROMBE_SEEDS`, `HAROMBE_CLUSTER_KEY`, `HAROMBE_CLUSTER_KEY_FILE`,
`HAROMBE_API_KEYS` comma-separated). Every section and field is described in
`docs/configuration.md`, which a test keeps in step with this file.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harombe.agent.config import AgentConfig
from harombe.cluster.config import MembershipConfig
from harombe.limits import LimitsConfig
from harombe.settings.routing import RoutingConfig
from harombe.stats.config import MonitoringConfig
from harombe.tls_config import TlsConfig

DEFAULT_PORT = 8765
HOME_DIR = Path(os.environ.get("HAROMBE_HOME", Path.home() / ".harombe"))
DEFAULT_CONFIG_PATH = HOME_DIR / "harombe.yaml"


class ConfigError(Exception):
    """A configuration problem, already phrased for the user (one line per problem)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeConfig(_Section):
    name: str = Field(
        default_factory=lambda: socket.gethostname().split(".")[0] or "harombe",
        description="This peer's name in the cluster; must be unique. Default: the host name.",
    )
    tier: int = Field(
        default=0,
        ge=0,
        le=2,
        description="The tier this machine serves: 0 fast/small, 1 balanced, 2 most capable.",
    )
    capacity: int = Field(
        default=2,
        ge=1,
        description="Requests this machine serves at once before others are preferred "
        "(match the backend's parallel slots, e.g. OLLAMA_NUM_PARALLEL).",
    )


class ServerConfig(_Section):
    host: str = Field(default="0.0.0.0", description="Address the HTTP API listens on.")
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, description="HTTP API port (0: any).")
    advertise_host: str | None = Field(
        default=None,
        description="Address other peers use to reach this one. Default: `host`, or this "
        "machine's primary address when `host` is 0.0.0.0.",
    )
    max_body_bytes: int | None = Field(
        default=None,
        gt=0,
        description="Deprecated: use `limits.max_body_bytes` (still honoured when that is "
        "not set).",
    )


class BackendConfig(_Section):
    kind: Literal["ollama", "openai", "llamacpp", "none"] = Field(
        default="ollama",
        description="Local inference server: ollama, openai (any OpenAI-compatible server), "
        "llamacpp (embedded, serves `gguf`), or none (routes only).",
    )
    url: str | None = Field(
        default=None,
        description="Backend base URL. Default: http://127.0.0.1:11434 for ollama, "
        "http://127.0.0.1:8080 for openai.",
    )
    model: str | None = Field(
        default=None, description="Model served by default when a request names none."
    )
    gguf: Path | None = Field(default=None, description="GGUF file for the llamacpp backend.")
    demo_model: bool = Field(
        default=False,
        description="Serve the generated tiny demo model with the llamacpp backend "
        "(its answers are noise; it exercises the whole path).",
    )
    api_key: str | None = Field(default=None, description="Bearer token for an openai backend.")
    timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a backend call may go without progress (connecting, or between "
        "two pieces of an answer) before it is abandoned; a long answer that keeps streaming "
        "is never cut off.",
    )
    n_ctx: int = Field(default=2048, gt=0, description="Context size for the llamacpp backend.")
    threads: int = Field(default=2, gt=0, description="CPU threads for the llamacpp backend.")
    parallel: int = Field(
        default=1,
        ge=1,
        description="Requests the llamacpp backend decodes at once (llama.cpp slots; the "
        "context is shared between them). Set node.capacity to match.",
    )

    def resolved_url(self) -> str | None:
        if self.url:
            return self.url.rstrip("/")
        return {"ollama": "http://127.0.0.1:11434", "openai": "http://127.0.0.1:8080"}.get(
            self.kind
        )


NodeKind = Literal["harombe", "ollama", "openai"]
DEFAULT_NODE_PORTS: dict[str, int] = {"harombe": DEFAULT_PORT, "ollama": 11434, "openai": 8080}


class SeedNode(_Section):
    """A node listed by hand (the seed notes' `cluster.nodes`): a harombe peer, joined like a
    seed, or a plain inference server, which the peers listing it health-check and share with
    the cluster as a node they sponsor."""

    name: str = Field(min_length=1, max_length=128, description="The node's name in the cluster.")
    host: str = Field(min_length=1, description="Host name or address.")
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port. Default: 8765 for a harombe peer, 11434 for ollama, 8080 for openai.",
    )
    kind: NodeKind | None = Field(
        default=None,
        description="harombe (a peer), ollama or openai (a plain inference server). Default: "
        "found out by asking the node (harombe's /health, Ollama's /api/tags, OpenAI's "
        "/v1/models).",
    )
    tier: int | None = Field(
        default=None, ge=0, le=2, description="Tier of a plain server (a peer says its own)."
    )
    model: str | None = Field(
        default=None,
        description="The model a plain server runs (default: every model it lists).",
    )
    auth: str | None = Field(
        default=None, description="Bearer token sent to a plain server (Authorization header)."
    )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port or DEFAULT_PORT}"

    def url(self, kind: str) -> str:
        """The base URL of this node if it is of `kind`."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port or DEFAULT_NODE_PORTS[kind]}"


class TransportConfig(_Section):
    """The peer websocket links that carry membership frames (seconds and frames)."""

    connect_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to dial a peer and upgrade to a websocket."
    )
    heartbeat: float = Field(
        default=5.0,
        gt=0,
        description="Websocket ping interval; a pong missing for half of it drops the link, "
        "which notices a half-open connection sooner than TCP does.",
    )
    reconnect_min: float = Field(
        default=0.1, gt=0, description="First redial delay after a failed dial."
    )
    reconnect_max: float = Field(
        default=5.0,
        gt=0,
        description="Longest redial delay (it doubles per failure, with jitter). A peer that "
        "dials in ends the wait at once, so a restarted peer is not cut off for this long.",
    )
    max_connect_failures: int = Field(
        default=8,
        ge=1,
        description="Failed dials in a row before a link is dropped; the next frame to that "
        "peer dials afresh. Membership declares dead peers on its own; this only frees links.",
    )
    idle_timeout: float = Field(
        default=60.0, gt=0, description="A link that carried nothing this long is closed."
    )
    close_timeout: float = Field(
        default=1.0,
        gt=0,
        description="On shutdown, how long queued frames (the leave among them) may still go out.",
    )
    queue_size: int = Field(
        default=256,
        ge=1,
        description="Frames queued per peer before new ones are dropped (the protocol tolerates "
        "loss; a large queue only delays news).",
    )


class ClusterConfig(_Section):
    label: str = Field(
        default="harombe",
        description="Cluster name; peers with another label ignore each other (mDNS and frames).",
    )
    seeds: list[str] = Field(
        default_factory=list, description="HOST:PORT of peers to join; retried with backoff."
    )
    nodes: list[SeedNode] = Field(
        default_factory=list,
        description="Nodes listed by hand: harombe peers (joined like seeds) and plain "
        "inference servers (name, host, port, kind, tier, model, auth); see "
        "docs/configuration.md.",
    )
    mdns: bool = Field(default=True, description="Announce and discover peers by mDNS.")
    mdns_interfaces: list[str] | None = Field(
        default=None,
        description="Restrict mDNS to these interface addresses (e.g. ['127.0.0.1']); "
        "default: all interfaces.",
    )
    membership: MembershipConfig = Field(default_factory=MembershipConfig)
    transport: TransportConfig = Field(default_factory=TransportConfig)
    coordinator: dict[str, Any] | None = Field(
        default=None,
        description="Accepted from the seed notes' cluster files and ignored (said once in the "
        "log): every peer coordinates the requests it receives.",
    )
    excluded: list[str] = Field(
        default_factory=list,
        description="Node names removed with `harombe cluster remove`: this peer tells the "
        "cluster (in its gossiped record) never to route to them, until `harombe cluster add`.",
    )
    node_check_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between health checks of each plain inference server in `nodes`; "
        "a failed check stops routing to it until one succeeds.",
    )
    node_check_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a plain server's health check (listing its models) may take.",
    )

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, seeds: list[str]) -> list[str]:
        for seed in seeds:
            parse_address(seed)
        return seeds

    def seed_addresses(self) -> list[str]:
        """Seeds, and the listed nodes that are (or may be) harombe peers."""
        peers = [n.address for n in self.nodes if n.kind in (None, "harombe")]
        return list(dict.fromkeys([*self.seeds, *peers]))

    @field_validator("nodes")
    @classmethod
    def _unique_names(cls, nodes: list[SeedNode]) -> list[SeedNode]:
        names = [n.name for n in nodes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"node names must be unique; listed twice: {', '.join(twice)}")
        return nodes


class DiscoveryConfig(_Section):
    """How peers find each other (the seed notes' `discovery` section)."""

    method: Literal["mdns", "explicit", "both"] = Field(
        default="both",
        description="mdns: announce and find peers on the LAN; explicit: only `cluster.seeds` "
        "and `cluster.nodes`; both. `cluster.mdns: false` (or --no-mdns) turns mDNS off in "
        "any case.",
    )
    service: str = Field(
        default="_harombe._tcp.local.",
        pattern=r"^_[A-Za-z0-9-]{1,15}\._tcp\.local\.?$",
        description="The mDNS service type announced and browsed (`_NAME._tcp.local`).",
    )

    def uses_mdns(self, cluster: ClusterConfig) -> bool:
        return cluster.mdns and self.method != "explicit"

    def uses_seeds(self) -> bool:
        return self.method != "mdns"


class SecurityConfig(_Section):
    cluster_key: str | None = Field(
        default=None,
        description="Shared secret (base64 or text, at least 16 characters) authenticating "
        "cluster frames and forwarded requests with HMAC-SHA256. Peers without it are never "
        "admitted. Unset: the cluster is unauthenticated (a warning at start).",
    )
    cluster_key_file: Path | None = Field(
        default=None,
        description="File holding the cluster key (surrounding whitespace ignored); keeps the "
        "key out of the command line and the config. Used when `cluster_key` is unset.",
    )
    api_keys: list[str] = Field(
        default_factory=list,
        description="Client API keys (each at least 16 characters). When set, every endpoint "
        "but /health and the peer paths requires `Authorization: Bearer <key>`. Env: "
        "HAROMBE_API_KEYS (comma-separated). Needs a cluster key.",
    )
    previous_keys: list[str] = Field(
        default_factory=list,
        description="Older keys still accepted while a new `cluster_key` rolls out.",
    )
    request_window: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a signed forwarded request stays valid; older ones, and any "
        "signature seen before within the window, are refused (replays). Peers' clocks must "
        "agree to within this.",
    )
    request_nonces_per_sender: int = Field(
        default=10_000,
        ge=16,
        description="Forwarded-request nonces remembered per sending peer to refuse replays: "
        "a sender would need more requests to this peer within `request_window` before an old "
        "one could be replayed. About 100 bytes each.",
    )
    request_max_senders: int = Field(
        default=1_024,
        ge=16,
        description="Sending peers whose nonces are remembered at once (least recently heard "
        "forgotten first). Only peers with valid signatures, that is cluster members, take a "
        "place.",
    )

    @field_validator("cluster_key")
    @classmethod
    def _check_cluster_key(cls, key: str | None) -> str | None:
        return None if key is None else check_secret(key)

    @field_validator("previous_keys", "api_keys")
    @classmethod
    def _check_keys(cls, keys: list[str]) -> list[str]:
        return [check_secret(key) for key in keys]

    @model_validator(mode="after")
    def _resolve_key_file(self) -> SecurityConfig:
        if self.cluster_key is None and self.cluster_key_file is not None:
            try:
                self.cluster_key = check_secret(read_secret_file(self.cluster_key_file))
            except ValueError as exc:
                raise ValueError(f"cluster_key_file: {exc}") from None
        if self.api_keys and self.cluster_key is None:
            raise ValueError(
                "api_keys need a cluster_key: without one, any client could pass as a peer"
            )
        return self

    def keyring(self) -> list[bytes]:
        keys = [self.cluster_key, *self.previous_keys] if self.cluster_key else []
        return [k.encode() for k in keys if k]


MIN_SECRET_CHARS = 16
"""Shortest cluster or API key accepted: 16 random characters are beyond guessing online."""

MAX_SECRET_FILE_BYTES = 4096


def check_secret(key: str) -> str:
    """`key` stripped of surrounding whitespace; ValueError if shorter than MIN_SECRET_CHARS."""
    key = key.strip()
    if len(key) < MIN_SECRET_CHARS:
        raise ValueError(
            f"a key of at least {MIN_SECRET_CHARS} characters (got {len(key)}); "
            "`harombe cluster init` writes a random one"
        )
    return key


def read_secret_file(path: Path) -> str:
    try:
        with path.expanduser().open("rb") as f:
            raw = f.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise ValueError(f"{path} is over {MAX_SECRET_FILE_BYTES} bytes; is it a key file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None


class HarombeConfig(_Section):
    node: NodeConfig = Field(default_factory=NodeConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @model_validator(mode="after")
    def _fold_deprecated(self) -> HarombeConfig:
        if self.server.max_body_bytes and "max_body_bytes" not in self.limits.model_fields_set:
            self.limits.max_body_bytes = self.server.max_body_bytes
        return self


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> str:
    """Normalise "host", "host:port" or "[v6]:port" to "host:port"; ValueError if malformed."""
    text = text.strip()
    if text.startswith("http://") or text.startswith("https://"):
        text = text.split("://", 1)[1].rstrip("/")
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = _port(rest.lstrip(":"), text)
        host = f"[{host}]"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text, text)
    if not host or " " in host:
        raise ValueError(f"{text!r} is not HOST or HOST:PORT")
    return f"{host}:{port}"


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r} has no valid port (expected HOST:PORT, port 1-65535)")
    return int(text)


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
