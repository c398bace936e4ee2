"""Fuzzing the HTTP request models: whatever JSON (or bytes) a client sends, parsing either
yields a request the coordinator can take or a 400 naming the problem, never another error."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from harombe.api.cluster_api import ExecuteRequest
from harombe.api.errors import ApiError
from harombe.api.models import WireModel
from harombe.api.ollama_models import OllamaChatRequest, OllamaGenerateRequest
from harombe.api.openai_models import ChatCompletionRequest

MODELS: list[type[WireModel]] = [
    OllamaChatRequest,
    OllamaGenerateRequest,
    ChatCompletionRequest,
    ExecuteRequest,
]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    [
        "model",
        "messages",
        "prompt",
        "options",
        "stream",
        "tools",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "query",
        "context",
        "role",
        "content",
        "num_predict",
        "seed",
    ]
)
message = st.dictionaries(st.sampled_from(["role", "content", "tool_calls", "images"]), json_values)
bodies = st.dictionaries(keys, json_values | st.lists(message, max_size=3), max_size=6)


def parse(model: type[WireModel], raw: bytes) -> None:
    """What `read_request` and the handler do with a body: validate, then convert."""
    try:
        body = model.model_validate_json(raw)
    except ValidationError as exc:  # anything else fails the test
        assert ApiError.from_validation(exc).status == 400
        return
    convert = getattr(body, "to_internal", None) or body.chat_request  # type: ignore[attr-defined]
    try:
        convert()
    except ApiError as exc:
        assert 400 <= exc.status < 500


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, which=st.sampled_from(MODELS))
def test_structured_bodies_parse_or_give_400(body, which):
    parse(which, json.dumps(body, allow_nan=True).encode())


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200), which=st.sampled_from(MODELS))
def test_arbitrary_bytes_parse_or_give_400(raw, which):
    parse(which, raw)
