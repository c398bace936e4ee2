"""The fake Ollama must parse into the official client's own types, or its tests prove nothing."""

from __future__ import annotations

import httpx
import ollama
import pytest
from support.fake_ollama import FakeModel, FakeOllama, Script


@pytest.fixture
async def client(fake_ollama: FakeOllama):
    client = ollama.AsyncClient(host=fake_ollama.url)
    yield client
    await client.close()


async def test_chat_stream_parses_into_chat_responses(client, fake_ollama):
    parts = [
        p
        async for p in await client.chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi there"}], stream=True
        )
    ]
    assert all(isinstance(p, ollama.ChatResponse) for p in parts)
    assert "".join(p.message.content for p in parts) == fake_ollama.script.text
    final = parts[-1]
    assert final.done and final.done_reason == "stop"
    assert final.prompt_eval_count == 2 and final.eval_count == len(parts) - 1
    assert final.total_duration == (
        final.load_duration + final.prompt_eval_duration + final.eval_duration
    )
    assert not any(p.done for p in parts[:-1])


async def test_chat_without_stream_is_one_object(client, fake_ollama):
    reply = await client.chat(
        model="llama3.2:latest", messages=[{"role": "user", "content": "hi"}], stream=False
    )
    assert reply.message.role == "assistant"
    assert reply.message.content == fake_ollama.script.text
    assert reply.done and reply.eval_count == 5


async def test_num_predict_cuts_the_answer_with_done_reason_length(client):
    reply = await client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "hi"}], options={"num_predict": 2}
    )
    assert reply.message.content == "Hello from"
    assert reply.done_reason == "length"


async def test_tool_calls_parse_into_the_clients_tool_call_type(client, fake_ollama):
    fake_ollama.script = Script(
        text="", tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]
    )
    reply = await client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "weather?"}], stream=False
    )
    (call,) = reply.message.tool_calls
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}


async def test_generate_stream_and_not(client, fake_ollama):
    parts = [p async for p in await client.generate(model="llama3.2", prompt="a b c", stream=True)]
    assert all(isinstance(p, ollama.GenerateResponse) for p in parts)
    assert "".join(p.response for p in parts) == fake_ollama.script.text
    assert parts[-1].done and parts[-1].context
    reply = await client.generate(model="llama3.2", prompt="a b c")
    assert reply.response == fake_ollama.script.text and reply.prompt_eval_count == 3


async def test_list_ps_show_version(client, fake_ollama):
    fake_ollama.models.append(FakeModel("qwen2.5:14b", parameter_size="14.8B", loaded=False))
    listing = await client.list()
    assert [m.model for m in listing.models] == ["llama3.2:latest", "qwen2.5:14b"]
    assert listing.models[1].details.parameter_size == "14.8B"
    assert listing.models[0].modified_at is not None
    running = await client.ps()
    assert [m.model for m in running.models] == ["llama3.2:latest"]
    assert running.models[0].expires_at is not None and running.models[0].size_vram > 0
    shown = await client.show("llama3.2")
    assert shown.details.family == "llama" and "tools" in shown.capabilities
    assert shown.modelinfo["general.architecture"] == "llama"
    async with httpx.AsyncClient(base_url=fake_ollama.url) as http:
        assert (await http.get("/api/version")).json() == {"version": "0.12.6"}
        assert (await http.get("/")).text == "Ollama is running"


async def test_unknown_model_is_404_with_ollamas_message(client):
    with pytest.raises(ollama.ResponseError) as info:
        await client.chat(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404
    assert info.value.error == 'model "nope" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as info:
        await client.show("nope")
    assert info.value.status_code == 404


async def test_failure_before_first_token_is_http_500(client, fake_ollama):
    fake_ollama.script = Script(fail_before_first_token=True)
    with pytest.raises(ollama.ResponseError) as info:
        async for _ in await client.chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            pass
    assert info.value.status_code == 500


async def test_death_mid_stream_cuts_the_connection(client, fake_ollama):
    fake_ollama.script = Script(die_after_chunks=2)
    received = []
    with pytest.raises(httpx.TransportError):
        async for part in await client.chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            received.append(part.message.content)
    assert received == ["Hello", " from"]


async def test_in_band_error_line_raises_in_the_client(client, fake_ollama):
    fake_ollama.script = Script(error_after_chunks=1)
    with pytest.raises(ollama.ResponseError) as info:
        async for _ in await client.chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            pass
    assert info.value.status_code == -1


async def test_records_request_bodies(client, fake_ollama):
    await client.chat(
        model="llama3.2",
        messages=[{"role": "user", "content": "hi"}],
        options={"temperature": 0.1, "seed": 7},
    )
    path, body = fake_ollama.requests[-1]
    assert path == "/api/chat"
    assert body["options"] == {"temperature": 0.1, "seed": 7}
