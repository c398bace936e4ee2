"""Shared fixtures: the demo GGUF and one real llama.cpp server for the whole session.

The suite runs with its own HAROMBE_HOME, so a developer's ~/.harombe (config, models) neither
changes what the tests see nor gets written by them. It is set before harombe is imported.
"""

from __future__ import annotations

import os
import tempfile

os.environ["HAROMBE_HOME"] = tempfile.mkdtemp(prefix="harombe-test-home-")

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.fake_ollama import FakeOllama


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # http://127.0.0.1:PORT, OpenAI API under /v1
    model: str


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gguf", reason="the demo model needs gguf: pip install 'harombe[llamacpp]'")
    from harombe.inference.demo_model import ensure_demo_model

    return ensure_demo_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path) -> Iterator[LlamaServer]:
    """One llama.cpp server (xllamacpp, in this process) serving the demo model on loopback."""
    pytest.importorskip("xllamacpp", reason="needs xllamacpp: pip install 'harombe[llamacpp]'")
    from harombe.inference.demo_model import DEMO_MODEL_NAME
    from harombe.inference.llamacpp import start_server, stop_server

    server = start_server(tiny_gguf, model_name=DEMO_MODEL_NAME, n_ctx=2048, threads=2)
    holder = [server]
    yield LlamaServer(base_url=server.listening_address, model=DEMO_MODEL_NAME)
    del server
    stop_server(holder)


@pytest.fixture
async def fake_ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        yield fake
