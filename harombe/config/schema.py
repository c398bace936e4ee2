"""`HarombeConfig`: every section in one model, the whole configuration of one peer."""

from __future__ import annotations

from pydantic import Field, model_validator

from harombe.agent.config import AgentConfig
from harombe.config.cluster import ClusterConfig, DiscoveryConfig
from harombe.config.common import Section
from harombe.config.node import BackendConfig, NodeConfig, ServerConfig
from harombe.config.security import SecurityConfig
from harombe.limits import LimitsConfig
from harombe.settings.routing import RoutingConfig
from harombe.stats.config import MonitoringConfig
from harombe.tls_config import TlsConfig


class HarombeConfig(Section):
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
