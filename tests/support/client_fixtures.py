"""The official ollama and openai clients pointed at a test module's `peer_url` fixture.

Load with `pytest_plugins = ["support.client_fixtures"]` in a module that defines `peer_url`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import ollama
import openai
import pytest


@pytest.fixture
async def ollama_client(peer_url: str) -> AsyncIterator[ollama.AsyncClient]:
    client = ollama.AsyncClient(host=peer_url)
    yield client
    await client.close()


@pytest.fixture
async def openai_client(peer_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{peer_url}/v1", api_key="x", max_retries=0)
    yield client
    await client.close()
