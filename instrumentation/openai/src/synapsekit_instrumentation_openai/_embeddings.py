"""Embeddings: input tokens only; the response names the model and reports ``prompt_tokens``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._fields import field, int_field, str_param
from .stainless import Operation, RequestInfo

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall


def embedding_input_text(items: Any) -> str:
    """The text of an embeddings input: a string or a list of strings (token-id arrays have no text)."""
    if isinstance(items, str):
        return items
    if isinstance(items, Iterable) and not isinstance(items, (bytes, Mapping)):
        return "\n".join(item for item in items if isinstance(item, str))
    return ""


class EmbeddingsOperation(Operation):
    name = "embeddings"

    def describe(self, body: Mapping[str, Any]) -> RequestInfo:
        items = body.get("input")
        return str_param(body, "model"), None, lambda: embedding_input_text(items)

    def record(self, call: LLMCall, result: Any) -> None:
        usage = field(result, "usage")
        call.record_usage(input_tokens=int_field(usage, "prompt_tokens"), output_tokens=0)
        call.record_response(model=field(result, "model"))


EMBEDDINGS = EmbeddingsOperation()
