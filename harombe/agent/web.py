"""`web_fetch` and `web_search`: the web as the model may see it.

web_fetch reads at most `fetch_max_bytes` within `fetch_timeout` seconds (redirects included)
and turns HTML into
text (html2text). Unless `fetch_private` is set, it refuses every address that is not globally
routable (private, loopback, link-local, carrier-grade NAT, multicast, reserved): checked on
the address the name *resolves* to, inside the connector, so a DNS name pointing inwards is
refused as surely as an IP literal; redirects are followed by hand, each one re-checked.

web_search asks a SearXNG instance (`search_url`, JSON output enabled) and returns the top
results as text; the instance is the operator's choice, so it may be a private address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Annotated, Any
from urllib.parse import urljoin

import aiohttp
import html2text
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from pydantic import Field
from yarl import URL

from harombe.agent.config import AgentConfig
from harombe.agent.tools import Tool, ToolError

REDIRECTS = (301, 302, 303, 307, 308)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PrivateAddressError(OSError):
    """Raised inside the connector (aiohttp wraps it as a connection error)."""


class PublicOnlyResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses any address that is not public."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r["host"] for r in results if not is_public(r["host"])]
        if refused:
            raise PrivateAddressError(f"{host} resolves to a private address ({refused[0]})")
        return results

    async def close(self) -> None:
        await self._inner.close()


class WebTools:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config

    def tools(self) -> list[Tool]:
        tools = [Tool.from_function(self.web_fetch)]
        if self.config.search_url:
            tools.append(Tool.from_function(self.web_search))
        return tools

    def _session(self) -> aiohttp.ClientSession:
        cfg = self.config
        resolver = None if cfg.fetch_private else PublicOnlyResolver()
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=resolver),
            timeout=aiohttp.ClientTimeout(total=cfg.fetch_timeout),
        )

    async def web_fetch(
        self, url: Annotated[str, Field(description="An http:// or https:// URL.")]
    ) -> str:
        """Fetch a web page and return its text (HTML is converted to plain text)."""
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.fetch_timeout), self._session() as http:
                for _ in range(cfg.fetch_max_redirects + 1):
                    target = self._checked(url)
                    async with http.get(target, allow_redirects=False) as resp:
                        if resp.status in REDIRECTS and "Location" in resp.headers:
                            url = urljoin(str(target), resp.headers["Location"])
                            continue
                        return await self._page(resp)
        except TimeoutError:
            raise ToolError(f"no answer within {cfg.fetch_timeout:g} s") from None
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise ToolError(f"{exc.os_error}; refused") from None
            raise ToolError(f"fetch failed: {exc}") from None
        except aiohttp.ClientError as exc:
            raise ToolError(f"fetch failed: {exc}") from None
        raise ToolError(f"more than {cfg.fetch_max_redirects} redirects")

    def _checked(self, url: str) -> URL:
        target = URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ToolError(f"{url!r} is not an http(s) URL")
        if not self.config.fetch_private:
            try:
                public = is_public(target.host)
            except ValueError:
                return target  # a name: the resolver checks what it resolves to
            if not public:
                raise ToolError(f"{target.host} is a private address; refused")
        return target

    async def _page(self, resp: aiohttp.ClientResponse) -> str:
        limit = self.config.fetch_max_bytes
        body = await resp.content.read(limit + 1)
        cut = len(body) > limit
        try:
            text = body[:limit].decode(resp.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            text = body[:limit].decode("utf-8", errors="replace")
        kind = resp.content_type
        if kind in ("text/html", "application/xhtml+xml"):
            converter = html2text.HTML2Text()
            converter.body_width = 0
            text = converter.handle(text).strip()
        elif not (kind.startswith("text/") or kind.endswith(("json", "xml"))):
            raise ToolError(f"{resp.url} is {kind}, not text")
        status = "" if resp.status == 200 else f"HTTP {resp.status}\n"
        return status + text + (f"\n[page cut at {limit} bytes]" if cut else "")

    async def web_search(
        self, query: Annotated[str, Field(description="What to search the web for.")]
    ) -> str:
        """Search the web; returns the top results with title, URL and snippet."""
        cfg = self.config
        assert cfg.search_url
        url = cfg.search_url.rstrip("/") + "/search"
        try:
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=cfg.fetch_timeout)
            ) as http:
                params = {"q": query, "format": "json"}
                async with http.get(url, params=params) as resp:
                    if resp.status != 200:
                        raise ToolError(f"the search service answered HTTP {resp.status}")
                    data: Any = await resp.json(content_type=None)
        except TimeoutError:
            raise ToolError(f"no answer within {cfg.fetch_timeout:g} s") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise ToolError(f"search failed: {exc}") from None
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ToolError("the search service sent no results list")
        lines = []
        for n, item in enumerate(results[: cfg.search_results], 1):
            if isinstance(item, dict):
                lines.append(
                    f"{n}. {item.get('title', '')}\n   {item.get('url', '')}\n"
                    f"   {item.get('content', '')}"
                )
        return "\n".join(lines) or "no results"
