"""A tool call made by a real model: the llama.cpp server (the `llama_server` fixture, serving
the tiny demo model) behind a real peer. The demo model's text is noise, so the agent's JSON
tool format constrains its output with the reply schema (`response_format`): every reply is
then a well-formed call or answer, and the call runs and its result goes back to the model."""

from __future__ import annotations

import pytest
from support.agent_support import agent_chat, of_type
from support.cli_support import cluster, node_config, url_of

SEED = 2  # llama.cpp samples deterministically with a fixed seed; with this one it calls


@pytest.mark.llamacpp
async def test_a_real_model_calls_a_tool_through_constrained_output(llama_server, tmp_path):
    (tmp_path / "ws").mkdir()
    cfg = node_config(
        "llama",
        backend={"kind": "openai", "url": llama_server.base_url, "model": llama_server.model},
        agent={
            "data_dir": str(tmp_path),
            "workspace": str(tmp_path / "ws"),
            "tool_format": "json",
            "seed": SEED,
            "max_steps": 2,
        },
    )
    async with cluster(cfg) as (node,):
        body = {"message": "list the files", "tools": ["list_dir"]}
        events = await agent_chat(url_of(node), body)
    steps = of_type(events, "step")
    assert steps and all(s["format"] == "json" for s in steps)
    assert all(s["escalated_from"] is None for s in steps), steps  # no malformed reply
    assert (steps[0]["node"], steps[0]["model"]) == ("llama", llama_server.model)
    calls = of_type(events, "tool_call")
    assert calls and calls[0]["name"] == "list_dir", events
    result = of_type(events, "tool_result")[0]
    assert result["id"] == calls[0]["id"] and isinstance(result["output"], str)
    assert events[-1]["type"] in ("answer", "error")
    if events[-1]["type"] == "error":
        assert "max_steps" in events[-1]["message"]  # a second call, not a malformed one
