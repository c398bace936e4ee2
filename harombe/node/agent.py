"""The tool-calling agent of one peer: its steps routed by the peer's dispatcher, its view of
the other peers (their shared tools, conversations they own) from the membership."""

from __future__ import annotations

import aiohttp

from harombe.agent.peers import MembershipPeers, PeerLink
from harombe.agent.service import AgentService
from harombe.config import HOME_DIR, HarombeConfig
from harombe.node.connect import request_signer
from harombe.node.gossip import Gossip
from harombe.routing.dispatch import Dispatcher


def make_agent(
    config: HarombeConfig,
    *,
    dispatcher: Dispatcher,
    gossip: Gossip,
    session: aiohttp.ClientSession,
) -> AgentService:
    """Not started yet; its conversations live under the harombe home."""
    name = config.node.name
    link = PeerLink(
        session,
        origin=name,
        signer=request_signer(config.security.keyring(), name),
        timeout=config.agent.fetch_timeout,
        scheme=config.tls.scheme,
    )
    return AgentService(
        config.agent,
        node_name=name,
        home=HOME_DIR,
        coordinator=dispatcher,
        peers=MembershipPeers(gossip.members),
        link=link,
    )
