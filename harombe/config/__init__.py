"""The whole harombe configuration: pydantic models, YAML loading, env and CLI overrides.

Precedence, lowest first: defaults, the YAML file (`--config PATH`, else
`~/.harombe/harombe.yaml` if it exists), `HAROMBE_*` environment variables, CLI flags.
Environment variables name a field by its path: `HAROMBE_SERVER__PORT=9000`,
`HAROMBE_ROUTING__PREFER_LOCAL=false`; a few shortcuts exist (`HAROMBE_PORT`, `HAROMBE_NAME`,
`HAROMBE_TIER`, `HAROMBE_SEEDS`, `HAROMBE_CLUSTER_KEY`, `HAROMBE_CLUSTER_KEY_FILE`,
`HAROMBE_API_KEYS` comma-separated). Every section and field is described in
`docs/configuration.md`, which a test keeps in step with these models.

Modules: `common` (the strict base section, the default port, HOST:PORT parsing), `node`
(node, server, backend), `cluster` (cluster, its hand-listed nodes and peer links, discovery),
`security` (keys), `schema` (`HarombeConfig`, every section), `loader` (YAML, env, merge,
error messages). The other sections live with their layers (`harombe.cluster.config`,
`harombe.limits`, `harombe.settings`, `harombe.agent.config`, ...) and are assembled here.
"""

from harombe.config.cluster import (
    DEFAULT_NODE_PORTS,
    ClusterConfig,
    DiscoveryConfig,
    NodeKind,
    SeedNode,
    TransportConfig,
)
from harombe.config.common import DEFAULT_PORT, parse_address
from harombe.config.loader import (
    DEFAULT_CONFIG_PATH,
    HOME_DIR,
    MAX_CONFIG_BYTES,
    ConfigError,
    describe_validation_error,
    load_config,
    merge,
)
from harombe.config.node import BackendConfig, NodeConfig, ServerConfig
from harombe.config.schema import HarombeConfig
from harombe.config.security import (
    MAX_SECRET_FILE_BYTES,
    MIN_SECRET_CHARS,
    SecurityConfig,
    check_secret,
    read_secret_file,
)
from harombe.tls_config import TlsConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_NODE_PORTS",
    "DEFAULT_PORT",
    "HOME_DIR",
    "MAX_CONFIG_BYTES",
    "MAX_SECRET_FILE_BYTES",
    "MIN_SECRET_CHARS",
    "BackendConfig",
    "ClusterConfig",
    "ConfigError",
    "DiscoveryConfig",
    "HarombeConfig",
    "NodeConfig",
    "NodeKind",
    "SecurityConfig",
    "SeedNode",
    "ServerConfig",
    "TlsConfig",
    "TransportConfig",
    "check_secret",
    "describe_validation_error",
    "load_config",
    "merge",
    "parse_address",
    "read_secret_file",
]
