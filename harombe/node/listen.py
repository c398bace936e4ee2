"""Where a peer listens and how the others reach it: the listening socket, the address it
gives the cluster, the websocket links that carry membership frames."""

from __future__ import annotations

import socket
from collections.abc import Callable

import aiohttp
import psutil

from harombe.cluster.ws_transport import WebSocketTransport
from harombe.config import HarombeConfig


def advertise_host(bind_host: str, configured: str | None) -> str:
    """The address peers should dial: configured, the bind address, or a LAN address."""
    if configured:
        return configured
    if bind_host not in ("0.0.0.0", "::", ""):
        return bind_host
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family.name == "AF_INET" and not addr.address.startswith("127."):
                return addr.address
    return "127.0.0.1"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port). Bound before anything is
    built, since the membership record must carry the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def peer_transport(
    config: HarombeConfig,
    *,
    address: str,
    on_frame: Callable[[bytes], None],
    session: aiohttp.ClientSession,
) -> WebSocketTransport:
    """The websocket links that carry membership frames, as configured (timings, limits, TLS)."""
    return WebSocketTransport(
        local_address=address,
        on_frame=on_frame,
        max_frame_bytes=config.cluster.membership.max_frame_bytes,
        session=session,
        scheme=config.tls.scheme,
        max_inbound=config.limits.max_peer_websockets,
        handshake_timeout=config.limits.ws_handshake_timeout,
        log_interval=config.limits.log_interval,
        **config.cluster.transport.model_dump(),
    )
