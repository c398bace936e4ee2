"""A small HTTP/1.1 client for streamed answers: a backend's chat stream and a peer's frames.

aiohttp's client spends about a tenth of a peer's CPU per routed request on its request and
response objects, the connector, a body-writer task and its stream reader's flow control
(docs/performance.md). This client does what a streamed answer needs and no more: the request
written in one `write`, the response head parsed once, the body handed over as it arrives
(each read's worth, de-chunked), and keep-alive connections pooled per host.

`connection` is one connection's protocol and parser, `client` the pool and the requests.
"""

from harombe.inference.http1.client import MAX_ERROR_BYTES, HttpClient, Response, Url
from harombe.inference.http1.connection import (
    MAX_HEAD_BYTES,
    CannotConnect,
    Connection,
    ConnectionLost,
    HttpClientError,
    MalformedResponse,
)

__all__ = [
    "MAX_ERROR_BYTES",
    "MAX_HEAD_BYTES",
    "CannotConnect",
    "Connection",
    "ConnectionLost",
    "HttpClient",
    "HttpClientError",
    "MalformedResponse",
    "Response",
    "Url",
]
