"""The small pieces of the inference layer: EWMA, the demo GGUF, the backend factory."""

from __future__ import annotations

import shutil
import sys

import gguf
import pytest

from harombe.config import BackendConfig, ConfigError
from harombe.inference.demo_model import (
    DEMO_FILE_NAME,
    DEMO_MODEL_NAME,
    ensure_demo_model,
    is_valid_demo_model,
)
from harombe.inference.factory import BackendConfigError, open_backend
from harombe.inference.stats import BackendStats, Ewma, decode_rate
from harombe.inference.types import BackendError, ChatRequest, Message


@pytest.mark.parametrize(
    ("alpha", "samples", "expected"),
    [
        (0.2, [], None),
        (0.2, [10.0], 10.0),
        (0.5, [10.0, 20.0], 15.0),
        (0.5, [10.0, 20.0, 20.0], 17.5),
        (0.2, [1.0, 0.0], 0.8),
        (1.0, [3.0, 7.0], 7.0),
    ],
)
def test_ewma(alpha, samples, expected):
    ewma = Ewma(alpha)
    for sample in samples:
        ewma.update(sample)
    assert ewma.value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tokens", "first", "done", "expected"),
    [(11, 1.0, 2.0, 10.0), (1, 1.0, 2.0, None), (5, 2.0, 2.0, None), (3, 0.0, 0.5, 4.0)],
)
def test_decode_rate(tokens, first, done, expected):
    assert decode_rate(tokens, first, done) == expected


def test_stats_snapshot_is_per_model():
    stats = BackendStats(alpha=0.5)
    stats.record_ttft("a", 0.2)
    stats.record_ttft("a", 0.4)
    stats.record_tps("b", 50.0)
    assert stats.snapshot() == ({"a": pytest.approx(0.3)}, {"b": 50.0})


def test_demo_model_is_small_valid_and_reused(tmp_path, tiny_gguf):
    path = ensure_demo_model(tmp_path)
    assert path == tmp_path / DEMO_FILE_NAME
    assert path.stat().st_size < 1_000_000
    assert path.read_bytes() == tiny_gguf.read_bytes()  # fixed seed: same bytes every time
    reader = gguf.GGUFReader(path)
    assert reader.get_field("general.architecture").contents() == "llama"
    assert reader.get_field("general.name").contents() == DEMO_MODEL_NAME
    tokens = reader.get_field("tokenizer.ggml.tokens").contents()
    assert tokens[:4] == ["<unk>", "<s>", "</s>", "<0x00>"] and len(tokens) == 259
    assert "im_start" in reader.get_field("tokenizer.chat_template").contents()
    stamp = path.stat().st_mtime_ns
    assert ensure_demo_model(tmp_path).stat().st_mtime_ns == stamp  # reused, not rewritten
    assert [p.name for p in tmp_path.iterdir()] == [DEMO_FILE_NAME]  # no temp files left


def test_a_broken_demo_model_is_regenerated(tmp_path, tiny_gguf):
    path = tmp_path / DEMO_FILE_NAME
    path.write_bytes(b"GGUF truncated")
    assert not is_valid_demo_model(path)
    assert ensure_demo_model(tmp_path).read_bytes() == tiny_gguf.read_bytes()


def hello() -> ChatRequest:
    return ChatRequest(messages=[Message(role="user", content="hi")])


async def test_factory_none_routes_only():
    backend = await open_backend(BackendConfig(kind="none"))
    try:
        assert backend.kind == "none"
        assert await backend.list_models() == [] and await backend.loaded_models() == []
        health = await backend.health()
        assert not health.ok and health.detail == "no local backend (routes only)"
        with pytest.raises(BackendError) as info:
            async for _ in backend.chat(hello()):
                pass
        assert info.value.status == 503 and info.value.retryable
    finally:
        await backend.aclose()


async def test_factory_ollama(fake_ollama):
    backend = await open_backend(
        BackendConfig(kind="ollama", url=fake_ollama.url, model="llama3.2")
    )
    try:
        assert backend.kind == "ollama"
        chunks = [c async for c in backend.chat(hello())]
        assert chunks[-1].done and backend.stats.snapshot()[0]
    finally:
        await backend.aclose()


async def test_factory_openai(llama_server):
    backend = await open_backend(BackendConfig(kind="openai", url=f"{llama_server.base_url}/v1"))
    try:
        assert backend.kind == "openai" and (await backend.health()).ok
    finally:
        await backend.aclose()


async def test_factory_llamacpp_serves_the_gguf_under_its_name(tiny_gguf):
    cfg = BackendConfig(kind="llamacpp", gguf=tiny_gguf, n_ctx=256, threads=1)
    backend = await open_backend(cfg)
    try:
        assert backend.kind == "llamacpp"
        assert [m.name for m in await backend.list_models()] == [tiny_gguf.stem]
    finally:
        await backend.aclose()


async def test_factory_demo_model_uses_the_harombe_home(tmp_path, tiny_gguf, monkeypatch):
    monkeypatch.setattr("harombe.config.HOME_DIR", tmp_path)
    (tmp_path / "models").mkdir()
    shutil.copy(tiny_gguf, tmp_path / "models" / DEMO_FILE_NAME)
    backend = await open_backend(BackendConfig(kind="llamacpp", demo_model=True, n_ctx=256))
    try:
        assert [m.name for m in await backend.list_models()] == [DEMO_MODEL_NAME]
        chunks = [c async for c in backend.chat(hello())]
        assert chunks[-1].done and chunks[-1].model == DEMO_MODEL_NAME
    finally:
        await backend.aclose()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "backend.gguf: the llamacpp backend needs a GGUF file"),
        ({"gguf": "/nonexistent/m.gguf"}, "backend.gguf: /nonexistent/m.gguf does not exist"),
    ],
)
async def test_factory_llamacpp_config_errors_name_the_field(fields, message):
    with pytest.raises(BackendConfigError, match=message) as info:
        await open_backend(BackendConfig(kind="llamacpp", **fields))
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


async def test_factory_without_xllamacpp_says_what_to_install(monkeypatch, tiny_gguf):
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    with pytest.raises(BackendConfigError, match=r"pip install 'harombe\[llamacpp\]'"):
        await open_backend(BackendConfig(kind="llamacpp", gguf=tiny_gguf))
