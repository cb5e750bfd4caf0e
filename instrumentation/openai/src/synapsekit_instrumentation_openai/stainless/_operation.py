"""What one endpoint of a generated SDK says about its calls: the per-endpoint half of the translation.

The pipeline (:mod:`._pipeline`) is the same for every endpoint; an :class:`Operation` is what differs: how
to read a request body, a complete response, and the items of its stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from synapsekit.plugin import StreamReader

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall, PromptParts

# What a request asks for, read from its JSON body: (model, max_output_tokens, prompt as its text when that
# is at hand, else a callable giving the text or its parts not joined, see synapsekit.plugin.PromptParts).
# A plain tuple, built on every request: a NamedTuple's constructor is one more Python call per request.
RequestInfo = tuple[str | None, int | None, "str | Callable[[], str | PromptParts]"]


class Operation:
    """One endpoint (``POST /chat/completions``, ``POST /v1/messages``, ...): how its calls are read.

    ``name`` is the GenAI semantic-conventions operation name. ``injects_stream_usage``: the endpoint only
    reports usage in a stream when asked with ``stream_options.include_usage`` (OpenAI chat completions); the
    pipeline then asks on the caller's behalf and the reader hides the extra chunk.

    Everything here reads both shapes a response takes: the SDK's models (the caller's parsed response or
    stream items) and plain JSON (``dict``) when the caller takes the raw body or a bare ``client.post()``
    asks for no model.
    """

    name: ClassVar[str]
    injects_stream_usage: ClassVar[bool] = False

    def describe(self, body: Mapping[str, Any]) -> RequestInfo:
        """Model, output-token limit and (lazily) the prompt text of a request body."""
        raise NotImplementedError

    def request_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The request's parameters as span attributes (``gen_ai.request.temperature``, ...); asked only when
        the call's span records, see :mod:`.params`.
        """
        return {}

    def input_messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The request's messages for content capture (only asked when the user opted in)."""
        return None

    def record(self, call: LLMCall, result: Any) -> None:
        """Record usage, model, id and finish reasons from a complete response (SDK model or dict)."""
        raise NotImplementedError

    def stream_reader(self, call: LLMCall, stream: Any, *, hide_usage: bool, is_async: bool) -> StreamReader:
        """The reader of one stream's items (SDK models, or dicts when read from the raw body).

        ``stream`` is the SDK's unstarted stream object, or ``None`` when the items come from the raw body
        (the pipeline then drives the reader itself). ``hide_usage``: the usage-only chunk was asked for on
        the caller's behalf, so ``on_item`` returns False for it.
        """
        return StreamReader(call)
