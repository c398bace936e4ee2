"""Backend for another harombe peer: chat over `POST /cluster/forward` in harombe's own typed
format (`harombe.inference.peer_wire`), models and health over the peer's JSON APIs.

Every request carries `X-Harombe-Hop: <this node>`, so the peer serves it with its own backend
and never routes it again (no loops), and, with a cluster key, `X-Harombe-Auth` bound to the
destination peer (see `harombe.api.peer_auth`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aiohttp

from harombe.inference import http1, peer_wire
from harombe.inference.types import (
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    ModelInfo,
    ModelNotFoundError,
    RequestRejected,
)
from harombe.inference.wire import error_text, parse_object
from harombe.limits import LimitsConfig

DEFAULT_TIMEOUT = 300.0
DEFAULT_MAX_FRAME_BYTES: int = LimitsConfig.model_fields["max_forward_frame_bytes"].default


class RequestSigner(Protocol):
    def headers(
        self,
        method: str,
        path: str,
        body: bytes,
        destination: str,
        signed: Mapping[str, str] | None = None,
    ) -> dict[str, str]: ...


class PeerBackend:
    """`destination`: the peer's name (signatures are bound to it). `timeout`: seconds without
    progress (connecting, or between two reads) before a call is abandoned; routing applies its
    own, shorter limits on top, and alone bounds the silences of a chat stream (a read timer
    here would be re-armed on every chunk). `max_frame_bytes` bounds one chunk frame. Chat
    goes through harombe's own `http`, the other calls through aiohttp's `session`; both
    belong to the caller."""

    kind = "peer"

    def __init__(
        self,
        address: str,
        *,
        session: aiohttp.ClientSession,
        http: http1.HttpClient,
        origin: str,
        destination: str = "",
        auth: RequestSigner | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        scheme: str = "http",
    ) -> None:
        self.address = address
        self.base_url = f"{scheme}://{address}"
        self._server = http1.Url.parse(self.base_url)
        self._session = session
        self._http = http
        self._origin = origin
        self._destination = destination
        self._auth = auth
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._max_frame_bytes = max_frame_bytes

    def _signed_headers(self) -> dict[str, str]:
        """Headers the signature covers (one of `peer_auth.SIGNED_HEADERS`) on every request."""
        return {}

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        signed = self._signed_headers()
        if self._auth is not None:
            return self._auth.headers(method, path, body, self._destination, signed)
        return {peer_wire.HOP_HEADER: self._origin, **signed}

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = peer_wire.encode_request(request)
        path = peer_wire.FORWARD_PATH
        headers = self._headers("POST", path, body)
        headers["Content-Type"] = peer_wire.CONTENT_TYPE
        headers[peer_wire.VERSION_HEADER] = str(peer_wire.PROTOCOL_VERSION)
        async with (
            self._translate_errors(path),
            self._http.request("POST", self._server, path, headers=headers, body=body) as resp,
        ):
            if resp.status != 200 and resp.content_type != peer_wire.CONTENT_TYPE:
                raise _http_error(self.address, resp.status, await resp.text(), request.model)
            reader = peer_wire.FrameReader(self._max_frame_bytes)
            try:
                async for piece in resp.body():
                    for frame in reader.feed(piece):
                        if frame.error is not None:
                            raise self._reported(frame.error, request.model)
                        assert frame.chunk is not None
                        yield frame.chunk
                        if frame.chunk.done:
                            return
            except peer_wire.WireError as exc:
                raise BackendError(f"peer {self.address}: {exc}") from None
            if reader.cut_short:
                raise BackendError(f"peer {self.address}: a frame was cut short")
        raise BackendError(f"peer {self.address}: the stream ended before the answer was done")

    def _reported(self, error: peer_wire.ForwardError, model: str | None) -> BackendError:
        """The serving peer's error as raised there: a client error stays the client's."""
        if error.status == 404 and model:
            return ModelNotFoundError(model)
        if error.status in RequestRejected.CLIENT_STATUSES and not error.retryable:
            return RequestRejected(error.message, status=error.status)
        message = error.message
        if not 400 <= error.status < 500:
            message = f"peer {self.address}: {message}"
        return BackendError(message, status=error.status, retryable=error.retryable)

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        """Through the peer's `/api/embed` (which also takes token arrays from a peer)."""
        payload: dict[str, Any] = {
            "model": request.model,
            "input": request.inputs,
            "truncate": request.truncate,
        }
        if request.dimensions is not None:
            payload["dimensions"] = request.dimensions
        body = json.dumps(payload).encode()
        path = "/api/embed"
        async with (
            self._translate_errors(path),
            self._session.post(
                self.base_url + path,
                data=body,
                headers=self._headers("POST", path, body),
                timeout=self._timeout,
            ) as resp,
        ):
            text = await resp.text()
        if resp.status in RequestRejected.CLIENT_STATUSES:  # the client's error, as the peer says
            raise RequestRejected(error_text(text), status=resp.status)
        if resp.status != 200:
            raise _http_error(self.address, resp.status, text, request.model)
        answer = parse_object(text, f"peer {self.address}")
        vectors = answer.get("embeddings")
        if not isinstance(vectors, list) or len(vectors) != len(request.inputs):
            raise BackendError(f"peer {self.address}: expected {len(request.inputs)} embeddings")
        return EmbedResult(
            embeddings=vectors,
            model=answer.get("model"),
            prompt_tokens=answer.get("prompt_eval_count"),
        )

    async def list_models(self) -> list[ModelInfo]:
        payload = await self._get_json("/api/tags")
        return [
            ModelInfo(
                name=str(m.get("model") or m.get("name") or ""),
                size=int(m.get("size") or 0),
                family=(m.get("details") or {}).get("family"),
                parameter_size=(m.get("details") or {}).get("parameter_size"),
                quantization=(m.get("details") or {}).get("quantization_level"),
                digest=m.get("digest"),
                modified_at=m.get("modified_at"),
            )
            for m in _model_list(payload, self.address)
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        payload = await self._get_json("/api/ps")
        return [
            LoadedModel(
                name=str(m.get("model") or m.get("name") or ""),
                size=int(m.get("size") or 0),
                size_vram=int(m.get("size_vram") or 0),
                expires_at=m.get("expires_at"),
            )
            for m in _model_list(payload, self.address)
        ]

    async def health(self) -> BackendHealth:
        try:
            payload = await self._get_json("/health")
        except BackendError as exc:
            return BackendHealth(ok=False, detail=str(exc))
        return BackendHealth(ok=payload.get("status") == "ok", detail=f"peer {self.address}")

    async def aclose(self) -> None:
        """Nothing to release: the clients belong to the caller."""

    async def _get_json(self, path: str) -> dict[str, Any]:
        async with (
            self._translate_errors(path),
            self._session.get(
                self.base_url + path, headers=self._headers("GET", path, b""), timeout=self._timeout
            ) as resp,
        ):
            text = await resp.text()
            if resp.status != 200:
                raise _http_error(self.address, resp.status, text, None)
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise BackendError(f"peer {self.address}{path}: not JSON: {text[:120]!r}") from exc
        if not isinstance(payload, dict):
            raise BackendError(f"peer {self.address}{path}: not a JSON object")
        return payload

    @asynccontextmanager
    async def _translate_errors(self, path: str) -> AsyncIterator[None]:
        where = f"peer {self.address}{path}"
        try:
            yield
        except TimeoutError as exc:
            raise BackendError(f"{where}: no answer in time") from exc
        except (aiohttp.ClientConnectorError, http1.CannotConnect) as exc:
            raise BackendError(f"{where}: cannot connect ({exc.os_error})") from exc
        except (aiohttp.ClientError, http1.HttpClientError) as exc:
            raise BackendError(f"{where}: connection failed ({exc!r})") from exc


def _model_list(payload: dict[str, Any], address: str) -> list[dict[str, Any]]:
    """The real models a peer lists (its `/api/tags` also names the virtual ones)."""
    models = payload.get("models")
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise BackendError(f"peer {address}: malformed model list")
    return [m for m in models if not (m.get("harombe") or {}).get("virtual")]


def _http_error(address: str, status: int, text: str, model: str | None) -> BackendError:
    """A peer that answered outside the protocol (an HTTP error before any frame)."""
    message = error_text(text)
    if status == 404 and model:
        return ModelNotFoundError(model)
    if status in (401, 403):
        return BackendError(
            f"peer {address} refused us (HTTP {status}: {message}); do the cluster keys match?",
            status=502,
        )
    return BackendError(f"peer {address}: HTTP {status}: {message}", status=502)
