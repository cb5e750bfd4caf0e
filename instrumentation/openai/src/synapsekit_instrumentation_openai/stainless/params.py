"""Request parameters as the GenAI conventions' span attributes (``gen_ai.request.temperature``, ...).

Only a span shows them: they are read when the call's span records (see ``LLMCall.span_attributes``), never
on the accounting-only path. A value of the wrong type (``temperature="hot"``), or the SDK's sentinel for a
parameter left out, is not an attribute: the request goes out as the caller wrote it, and the provider is the
one to reject it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Reads one parameter's value into an attribute value; None: not recorded.
ParamReader = Callable[[Any], Any]


def number(value: Any) -> float | None:
    """An int or float parameter (``temperature=1`` is 1.0): the conventions type these as double."""
    value_type = type(value)
    if value_type is float:
        return value  # type: ignore[no-any-return]
    if value_type is int:  # not bool: type() is exact
        return float(value)
    return None


def integer(value: Any) -> int | None:
    return value if type(value) is int else None


def choice_count(value: Any) -> int | None:
    """``n``: recorded only when it asks for more than the default one choice, as the conventions say."""
    return value if type(value) is int and value != 1 else None


def string(value: Any) -> str | None:
    return value if type(value) is str and value else None


def sequences(value: Any) -> tuple[str, ...] | None:
    """Stop sequences: one string or a list of them; always a list of strings on the span."""
    if type(value) is str:
        return (value,)
    if type(value) in (list, tuple) and value and all(type(item) is str for item in value):
        return tuple(value)
    return None


def output_type(response_format: Any) -> str | None:
    """``gen_ai.output.type`` of a ``response_format``: ``json`` for a JSON object or schema, else its type."""
    kind = response_format.get("type") if type(response_format) is dict else response_format
    if type(kind) is not str or not kind:
        return None
    return "json" if kind in ("json_object", "json_schema") else kind


def request_attributes(
    body: Mapping[str, Any], readers: tuple[tuple[str, str, ParamReader], ...]
) -> dict[str, Any]:
    """``{attribute: value}`` for each ``(parameter, attribute, reader)`` the body gives a usable value."""
    attributes: dict[str, Any] = {}
    get = body.get
    for parameter, attribute, read in readers:
        value = get(parameter)
        if value is not None:
            value = read(value)
            if value is not None:
                attributes[attribute] = value
    return attributes
