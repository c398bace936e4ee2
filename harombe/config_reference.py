"""Render the configuration reference (docs/configuration.md) from the pydantic schema.

`python -m harombe.config_reference > docs/configuration-reference.md` regenerates it; a test
fails when the committed file and the schema drift apart.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from harombe.config import HarombeConfig


def _default(field: Any) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
        if isinstance(value, BaseModel):
            return "(section)"
        if field.default_factory.__name__ == "<lambda>":
            return "(computed)"
    elif field.is_required():
        return "(required)"
    else:
        value = field.default
    return f"`{value!r}`" if value not in (None, [], {}) else f"`{value}`"


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " or ".join(repr(a) for a in get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "")


def _rows(model: type[BaseModel], prefix: str, out: list[str], sections: list[tuple]) -> None:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.append((f"{prefix}{name}", annotation))
            continue
        doc = (field.description or "").replace("\n", " ").replace("|", "\\|")
        type_text = _type_name(annotation).replace("|", "\\|")
        out.append(f"| `{prefix}{name}` | {type_text} | {_default(field)} | {doc} |")


def render_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from `harombe/config/` by `python -m harombe.config_reference`; "
        "do not edit by hand.",
        "",
    ]
    pending: list[tuple[str, type[BaseModel]]] = []
    top: list[str] = []
    _rows(HarombeConfig, "", top, pending)
    while pending:
        path, model = pending.pop(0)
        rows: list[str] = []
        nested: list[tuple[str, type[BaseModel]]] = []
        _rows(model, f"{path}.", rows, nested)
        lines += [f"## `{path}`", ""]
        if model.__doc__ and model.__doc__.strip():
            lines += [" ".join(model.__doc__.split()), ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|", *rows, ""]
        pending = nested + pending
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_reference())
