"""How a peer reaches a node that routing picked and that is not itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from harombe.api.peer_auth import RequestSigner
from harombe.inference.http1 import HttpClient
from harombe.inference.peer import DEFAULT_MAX_FRAME_BYTES, DEFAULT_TIMEOUT, PeerBackend
from harombe.inference.types import Backend
from harombe.routing.view import Candidate
from harombe.sponsored import LentBackend, SponsoredNodes, SponsoredPeerBackend


def request_signer(keyring: Sequence[bytes], sender: str) -> RequestSigner | None:
    """What signs this peer's requests to other peers; None in a keyless cluster."""
    return RequestSigner(list(keyring), sender=sender) if keyring else None


@dataclass(frozen=True)
class PeerConnector:
    """The dispatcher's `connect`. A plain server this peer sponsors is served by its backend
    here (lent: the dispatcher's close leaves it open for `sponsored`); a plain server another
    peer sponsors goes through that peer (`via`); any other node is a peer, reached through
    its /cluster/forward, with requests signed when the cluster has a key. Answers stream
    through `http`, other calls go through `session`."""

    session: aiohttp.ClientSession
    http: HttpClient
    origin: str
    signer: RequestSigner | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES  # the largest answer frame accepted
    scheme: str = "http"
    sponsored: SponsoredNodes | None = None

    def __call__(self, candidate: Candidate) -> Backend:
        c = candidate
        own = self.sponsored.backend(c.name) if self.sponsored and c.via == self.origin else None
        if own is not None:
            return LentBackend(own)
        peer = dict(
            session=self.session,
            http=self.http,
            auth=self.signer,
            origin=self.origin,
            destination=c.via or c.name,  # the peer that receives it: a plain server's sponsor
            timeout=self.timeout,
            max_frame_bytes=self.max_frame_bytes,
            scheme=self.scheme,
        )
        if c.via:
            return SponsoredPeerBackend(c.address, node=c.name, **peer)
        return PeerBackend(c.address, **peer)
