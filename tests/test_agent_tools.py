"""The agent's built-in tools on real directories, a real shell and real HTTP servers; the
schemas derived from their signatures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from aiohttp import web
from support.agent_support import searxng_app, serve

from harombe.agent.config import AgentConfig, McpServerConfig
from harombe.agent.files import Workspace
from harombe.agent.mcp_tools import McpServer
from harombe.agent.shell import Shell
from harombe.agent.tools import BadArguments, Tool, ToolError
from harombe.agent.web import WebTools, is_public


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("alpha\nbeta gamma\n")
    (root / "sub").mkdir()
    (root / "sub" / "deep.txt").write_text("gamma ray\n")
    (tmp_path / "secret.txt").write_text("top secret\n")
    return Workspace(root, max_bytes=1000, max_matches=10)


def test_schema_comes_from_the_signature(workspace):
    tools = {t.name: t for t in workspace.tools()}
    write = tools["write_file"].schema()
    assert write["type"] == "function"
    function = write["function"]
    assert function["description"].startswith("Create or overwrite a text file")
    params = function["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["path", "content"]
    assert params["properties"]["path"] == {
        "type": "string",
        "description": "File path, relative to the workspace.",
    }
    assert params["additionalProperties"] is False
    listing = tools["list_dir"].parameters
    assert listing["required"] == [] and listing["properties"]["path"]["default"] == "."
    with pytest.raises(BadArguments, match="path"):
        tools["read_file"].check({"file": "x"})
    with pytest.raises(BadArguments):
        tools["read_file"].check({"path": 3})
    tools["read_file"].check({"path": "notes.txt"})


async def test_file_tools_work_inside_the_workspace(workspace):
    assert await workspace.read_file("notes.txt") == "alpha\nbeta gamma\n"
    assert await workspace.list_dir(".") == "notes.txt\nsub/"
    assert await workspace.write_file("new/out.txt", "hello") == "wrote 5 bytes to new/out.txt"
    assert (workspace.root / "new" / "out.txt").read_text() == "hello"
    found = await workspace.search_files("gamma", ".")
    assert found.splitlines() == ["notes.txt:2: beta gamma", "sub/deep.txt:1: gamma ray"]


@pytest.mark.parametrize("path", ["../secret.txt", "sub/../../secret.txt", "/etc/passwd"])
async def test_escapes_are_refused(workspace, path):
    with pytest.raises(ToolError, match="outside the workspace"):
        await workspace.read_file(path)
    with pytest.raises(ToolError, match="outside the workspace"):
        await workspace.write_file(path, "x")
    assert (workspace.root.parent / "secret.txt").read_text() == "top secret\n"


async def test_symlinks_out_of_the_workspace_are_refused(workspace):
    outside = workspace.root.parent
    os.symlink(outside / "secret.txt", workspace.root / "link.txt")
    os.symlink(outside, workspace.root / "door")
    os.symlink(workspace.root / "notes.txt", workspace.root / "inner.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        await workspace.read_file("link.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        await workspace.write_file("door/planted.txt", "x")
    with pytest.raises(ToolError, match="outside the workspace"):
        await workspace.list_dir("door")
    assert not (outside / "planted.txt").exists()
    assert "secret" not in await workspace.search_files("secret", ".")
    assert await workspace.read_file("inner.txt") == "alpha\nbeta gamma\n"  # a link inside


async def test_size_caps(workspace):
    (workspace.root / "big.txt").write_text("x" * 1001)
    with pytest.raises(ToolError, match="limit is 1000"):
        await workspace.read_file("big.txt")
    with pytest.raises(ToolError, match="limit is 1000"):
        await workspace.write_file("big2.txt", "y" * 1001)
    assert not (workspace.root / "big2.txt").exists()


async def test_shell_runs_in_the_workspace_with_caps(tmp_path):
    shell = Shell(tmp_path, timeout=5, max_output=300)
    out = await shell.shell("pwd; echo oops >&2; exit 3")
    assert out.splitlines() == ["exit status 3", str(tmp_path), "oops"]
    assert (await shell.shell("cat; echo after")).endswith("after\n")  # stdin is closed
    long = await shell.shell("head -c 5000 /dev/zero | tr '\\0' a")
    assert long.splitlines()[1:] == ["a" * 300, "[output cut at 300 bytes]"]
    quick = Shell(tmp_path, timeout=0.5, max_output=300)
    marker = tmp_path / "survived"
    slept = await quick.shell(f"echo started; sleep 5; touch {marker}")
    assert slept.startswith("timed out after 0.5 s") and "started" in slept
    assert not marker.exists()
    assert shell.tool("off") is None
    assert shell.tool("confirm").needs_confirm and not shell.tool("allow").needs_confirm


def _site() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        html = "<html><body><h1>Papers</h1><p>Mixture of <b>experts</b> rises.</p></body></html>"
        return web.Response(text=html, content_type="text/html")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query.get("to", "/page"))

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def big(request: web.Request) -> web.Response:
        return web.Response(text="z" * 5000, content_type="text/plain")

    async def binary(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01", content_type="application/octet-stream")

    app = web.Application()
    for path, handler in (("/page", page), ("/hop", hop), ("/loop", loop), ("/big", big),
                          ("/bin", binary)):  # fmt: skip
        app.router.add_get(path, handler)
    return app


async def test_web_fetch_with_private_addresses_allowed():
    tools = WebTools(AgentConfig(fetch_private=True, fetch_max_bytes=1000, fetch_max_redirects=2))
    async with serve(_site()) as url:
        text = await tools.web_fetch(f"{url}/page")
        assert "# Papers" in text and "Mixture of **experts** rises." in text
        assert "# Papers" in await tools.web_fetch(f"{url}/hop")
        cut = await tools.web_fetch(f"{url}/big")
        assert cut.endswith("[page cut at 1000 bytes]") and cut.count("z") == 1000
        with pytest.raises(ToolError, match="more than 2 redirects"):
            await tools.web_fetch(f"{url}/loop")
        with pytest.raises(ToolError, match="not text"):
            await tools.web_fetch(f"{url}/bin")
        with pytest.raises(ToolError, match="not an http"):
            await tools.web_fetch("file:///etc/passwd")


async def test_web_fetch_refuses_private_addresses_by_default():
    tools = WebTools(AgentConfig())
    async with serve(_site()) as url:
        port = url.rsplit(":", 1)[1]
        with pytest.raises(ToolError, match="private address"):
            await tools.web_fetch(f"{url}/page")
        with pytest.raises(ToolError, match="private address"):
            await tools.web_fetch(f"http://localhost:{port}/page")  # a name resolving inwards
        with pytest.raises(ToolError, match="private address"):
            await tools.web_fetch(f"http://[::ffff:127.0.0.1]:{port}/page")
    for address in ("10.1.2.3", "192.168.1.1", "169.254.169.254", "100.64.0.1", "::1", "fe80::1"):
        assert not is_public(address), address
    assert is_public("8.8.8.8") and is_public("2001:4860:4860::8888")


async def test_a_redirect_into_the_private_network_is_refused():
    """A public page redirecting inwards: the redirect target is checked again."""
    tools = WebTools(AgentConfig())
    with pytest.raises(ToolError, match="private address"):
        tools._checked("http://127.0.0.1/")
    assert str(tools._checked("http://93.184.215.14/x")) == "http://93.184.215.14/x"


async def test_web_search_speaks_searxng_json():
    queries: list[str] = []
    results = [
        {"url": "https://arxiv.org/abs/1", "title": "MoE at scale", "content": "Experts."},
        {"url": "https://arxiv.org/abs/2", "title": "Routing", "content": "Tokens."},
    ]
    async with serve(searxng_app(results, queries)) as url:
        tools = WebTools(AgentConfig(search_url=url, search_results=1))
        assert [t.name for t in tools.tools()] == ["web_fetch", "web_search"]
        text = await tools.web_search("mixture of experts")
    assert queries == ["mixture of experts"]
    assert text == "1. MoE at scale\n   https://arxiv.org/abs/1\n   Experts."
    assert [t.name for t in WebTools(AgentConfig()).tools()] == ["web_fetch"]


MCP_SERVER = """
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("notes")


@server.tool()
def add(a: int, b: int) -> str:
    \"\"\"Add two numbers.\"\"\"
    return str(a + b)


@server.tool()
def fail() -> str:
    \"\"\"Always fails.\"\"\"
    raise ToolError("no luck")


server.run("stdio")
"""


async def test_mcp_server_tools_join_with_a_prefix(tmp_path):
    script = tmp_path / "mcp_server.py"
    script.write_text(MCP_SERVER)
    server = McpServer("calc", McpServerConfig(command=sys.executable, args=[str(script)]),
                       call_timeout=10)  # fmt: skip
    try:
        tools: dict[str, Tool] = {t.name: t for t in await server.start()}
        assert set(tools) == {"calc_add", "calc_fail"}
        assert tools["calc_add"].parameters["required"] == ["a", "b"]
        assert tools["calc_add"].description == "Add two numbers."
        assert await tools["calc_add"].run({"a": 2, "b": 3}) == "5"
        with pytest.raises(ToolError, match="no luck"):
            await tools["calc_fail"].run({})
    finally:
        await server.close()
