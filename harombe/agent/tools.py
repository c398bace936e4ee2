"""Tools as typed Python functions: the JSON schema the model sees is derived from the signature.

A tool is one async function whose parameters are annotated (`Annotated[str, Field(...)]` for
a description) and whose docstring's first paragraph describes it. `Tool.from_function` builds
a pydantic model from the signature: it gives the schema (`Tool.schema`) and validates the
model's arguments (`Tool.validate`), so there is no hand-written JSON twin to drift.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

ToolFunction = Callable[..., Awaitable[str]]


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the model as the result."""


class BadArguments(ToolError):
    """The model's arguments do not fit the tool's signature (a malformed call)."""


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    run: Callable[[dict[str, Any]], Awaitable[str]]
    needs_confirm: bool = False  # the client must allow each call
    remote: str | None = None  # the peer that runs it, when this one lacks it
    checker: Callable[[dict[str, Any]], object] | None = None  # raises BadArguments

    def check(self, arguments: dict[str, Any]) -> None:
        """Raise BadArguments when `arguments` do not fit the tool (before anything runs)."""
        if self.checker is not None:
            self.checker(arguments)
            return
        missing = [k for k in self.parameters.get("required", []) if k not in arguments]
        if missing:
            raise BadArguments(f"invalid arguments: missing {', '.join(missing)}")

    @classmethod
    def from_function(
        cls, fn: ToolFunction, *, name: str | None = None, needs_confirm: bool = False
    ) -> Tool:
        args_model = _arguments_model(fn)

        async def run(arguments: dict[str, Any]) -> str:
            return await fn(**_validate(args_model, arguments))

        return cls(
            name=name or fn.__name__,
            description=_summary(fn),
            parameters=_schema(args_model),
            run=run,
            needs_confirm=needs_confirm,
            checker=lambda arguments: _validate(args_model, arguments),
        )

    def schema(self) -> dict[str, Any]:
        """The OpenAI/Ollama `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass
class ToolRegistry:
    """Tools by name, in registration order."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"two tools are named {tool.name!r}")
        self.tools[tool.name] = tool

    def extend(self, tools: Iterable[Tool]) -> None:
        for tool in tools:
            self.add(tool)

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def names(self) -> list[str]:
        return list(self.tools)

    def all(self) -> list[Tool]:
        return list(self.tools.values())


def _arguments_model(fn: ToolFunction) -> type[BaseModel]:
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], default)
    return create_model(  # type: ignore[call-overload]
        f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("required", [])
    return schema


def _validate(model: type[BaseModel], arguments: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = model.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise BadArguments(f"invalid arguments: {problems}") from None
    return {name: getattr(parsed, name) for name in type(parsed).model_fields}


def _summary(fn: ToolFunction) -> str:
    doc = inspect.getdoc(fn) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())
