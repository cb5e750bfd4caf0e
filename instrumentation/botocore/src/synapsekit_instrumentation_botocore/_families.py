"""InvokeModel bodies: each model family's request and response JSON.

``invoke_model`` sends the model vendor's own JSON, so what the request asks (prompt, output cap) and what the
answer reports (usage, stop reason, streamed text) depends on the family: Anthropic (the Messages API with
``anthropic_version``), Amazon Nova (``messages-v1``) and Meta Llama (a raw ``prompt``). Any other family is
still counted, from the token-count headers Bedrock adds to every InvokeModel answer and the
``amazon-bedrock-invocationMetrics`` of a stream's last chunk, whatever the body says.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from synapsekit_instrumentation_botocore._usage import UsageCounts, count

CHAT = "chat"
TEXT_COMPLETION = "text_completion"
EMBEDDINGS = "embeddings"

# Cross-region inference profiles prefix the base id with a geography (``us.anthropic.claude-...``).
_GEOGRAPHIES = ("us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca.")


def base_model_id(model_id: str) -> str:
    """``anthropic.claude-...`` for ``us.anthropic.claude-...`` and for an ARN naming it."""
    name = model_id.rsplit("/", 1)[-1].lower()
    for geography in _GEOGRAPHIES:
        if name.startswith(geography):
            return name[len(geography) :]
    return name


def block_texts(content: Any) -> Iterator[str]:
    """The text of a content field: a string, or blocks with a string ``text``."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, Iterable) and not isinstance(content, (bytes, Mapping)):
        for block in content:
            if isinstance(block, Mapping):
                text = block.get("text")
                if isinstance(text, str):
                    yield text


def message_texts(system: Any, messages: Any) -> Iterator[str]:
    """The text of a ``system`` field and of every message's ``content`` (Converse, Anthropic, Nova)."""
    yield from block_texts(system)
    if isinstance(messages, Iterable) and not isinstance(messages, (str, bytes, Mapping)):
        for message in messages:
            if isinstance(message, Mapping):
                yield from block_texts(message.get("content"))


def structured_messages(system: Any, messages: Any) -> list[dict[str, Any]]:
    """System and messages in the GenAI conventions' structure (opted-in content capture)."""
    structured: list[dict[str, Any]] = []
    if system is not None:
        structured.append(text_message("system", block_texts(system)))
    if isinstance(messages, Iterable) and not isinstance(messages, (str, bytes, Mapping)):
        for message in messages:
            if isinstance(message, Mapping):
                role = message.get("role")
                structured.append(
                    text_message(
                        role if isinstance(role, str) else "user", block_texts(message.get("content"))
                    )
                )
    return structured


def text_message(role: str, texts: Iterable[str], finish_reason: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text} for text in texts]}
    if finish_reason is not None:
        message["finish_reason"] = finish_reason
    return message


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass
class Answer:
    """What a non-streamed answer says besides its usage."""

    texts: list[str]
    stop_reason: str | None = None
    response_id: str | None = None


class Family:
    """A family whose body synapsekit cannot read: counted from Bedrock's headers and invocation metrics."""

    name = "other"

    def __init__(self, operation: str = CHAT) -> None:
        self.operation = operation

    def max_output_tokens(self, body: Mapping[str, Any]) -> int | None:
        return None

    def prompt_texts(self, body: Mapping[str, Any]) -> Iterator[str]:
        # The usual names of a prompt among the other families' bodies (Titan, Cohere, Mistral, AI21...).
        for field in ("prompt", "inputText", "message", "texts", "messages", "system"):
            if field in body:
                value = body[field]
                yield from message_texts(None, value) if field == "messages" else block_texts(value)

    def input_messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [text_message("user", self.prompt_texts(body))]

    def read_answer(self, document: Any, counts: UsageCounts) -> Answer:
        return Answer(texts=[])

    def read_chunk(self, document: Mapping[str, Any], counts: UsageCounts, state: StreamState) -> str | None:
        return None


@dataclass
class StreamState:
    """What a stream learnt besides its usage."""

    stop_reason: str | None = None
    response_id: str | None = None


class Anthropic(Family):
    """``anthropic.*``: the Messages API body; usage as the Anthropic API reports it."""

    name = "anthropic"

    def max_output_tokens(self, body: Mapping[str, Any]) -> int | None:
        return count(body, "max_tokens")

    def prompt_texts(self, body: Mapping[str, Any]) -> Iterator[str]:
        return message_texts(body.get("system"), body.get("messages"))

    def input_messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        return structured_messages(body.get("system"), body.get("messages"))

    @staticmethod
    def _usage(counts: UsageCounts, usage: Any, *, final: bool) -> None:
        counts.update(
            usage,
            input_field="input_tokens",
            # message_start's output count is a placeholder: only message_delta's is final.
            output_field="output_tokens",
            cache_read_field="cache_read_input_tokens",
            cache_write_field="cache_creation_input_tokens",
            final=final,
        )

    def read_answer(self, document: Any, counts: UsageCounts) -> Answer:
        self._usage(counts, document.get("usage"), final=True)
        return Answer(
            texts=list(block_texts(document.get("content"))),
            stop_reason=_text(document.get("stop_reason")),
            response_id=_text(document.get("id")),
        )

    def read_chunk(self, document: Mapping[str, Any], counts: UsageCounts, state: StreamState) -> str | None:
        kind = document.get("type")
        if kind == "content_block_delta":
            delta = document.get("delta")
            if isinstance(delta, Mapping):
                # Text, thinking and tool-input deltas are all output tokens arriving.
                for field in ("text", "thinking", "partial_json"):
                    text = delta.get(field)
                    if isinstance(text, str):
                        return text
        elif kind == "message_start":
            message = document.get("message")
            if isinstance(message, Mapping):
                self._usage(counts, message.get("usage"), final=False)
                state.response_id = _text(message.get("id"))
        elif kind == "message_delta":
            self._usage(counts, document.get("usage"), final=True)
            delta = document.get("delta")
            if isinstance(delta, Mapping):
                state.stop_reason = _text(delta.get("stop_reason")) or state.stop_reason
        return None


def _nova_usage(counts: UsageCounts, usage: Any) -> None:
    counts.update(
        usage,
        input_field="inputTokens",
        output_field="outputTokens",
        cache_read_field="cacheReadInputTokenCount",
        cache_write_field="cacheWriteInputTokenCount",
        final=True,
    )


class Nova(Family):
    """``amazon.nova*``: ``messages-v1`` bodies, ``inferenceConfig.maxTokens``."""

    name = "nova"

    def max_output_tokens(self, body: Mapping[str, Any]) -> int | None:
        return count(body.get("inferenceConfig"), "maxTokens")

    def prompt_texts(self, body: Mapping[str, Any]) -> Iterator[str]:
        return message_texts(body.get("system"), body.get("messages"))

    def input_messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        return structured_messages(body.get("system"), body.get("messages"))

    def read_answer(self, document: Any, counts: UsageCounts) -> Answer:
        _nova_usage(counts, document.get("usage"))
        output = document.get("output")
        message = output.get("message") if isinstance(output, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        return Answer(texts=list(block_texts(content)), stop_reason=_text(document.get("stopReason")))

    def read_chunk(self, document: Mapping[str, Any], counts: UsageCounts, state: StreamState) -> str | None:
        delta_event = document.get("contentBlockDelta")
        if isinstance(delta_event, Mapping):
            delta = delta_event.get("delta")
            if isinstance(delta, Mapping):
                text = delta.get("text")
                if isinstance(text, str):
                    return text
                reasoning = delta.get("reasoningContent")
                if isinstance(reasoning, Mapping):
                    return _text(reasoning.get("text"))
            return None
        stop = document.get("messageStop")
        if isinstance(stop, Mapping):
            state.stop_reason = _text(stop.get("stopReason")) or state.stop_reason
        metadata = document.get("metadata")
        if isinstance(metadata, Mapping):
            _nova_usage(counts, metadata.get("usage"))
        return None


class Llama(Family):
    """``meta.llama*``: a raw ``prompt`` and ``max_gen_len``; counts in every stream chunk."""

    name = "llama"

    def max_output_tokens(self, body: Mapping[str, Any]) -> int | None:
        return count(body, "max_gen_len")

    def prompt_texts(self, body: Mapping[str, Any]) -> Iterator[str]:
        return block_texts(body.get("prompt"))

    def read_answer(self, document: Any, counts: UsageCounts) -> Answer:
        counts.update(
            document,
            input_field="prompt_token_count",
            output_field="generation_token_count",
            cache_read_field=None,
            cache_write_field=None,
            final=True,
        )
        generation = _text(document.get("generation"))
        return Answer(
            texts=[generation] if generation else [], stop_reason=_text(document.get("stop_reason"))
        )

    def read_chunk(self, document: Mapping[str, Any], counts: UsageCounts, state: StreamState) -> str | None:
        stop_reason = _text(document.get("stop_reason"))
        # generation_token_count is a running total: the bill only on the chunk that ends the generation.
        counts.update(
            document,
            input_field="prompt_token_count",
            output_field="generation_token_count",
            cache_read_field=None,
            cache_write_field=None,
            final=stop_reason is not None,
        )
        if stop_reason is not None:
            state.stop_reason = stop_reason
        return _text(document.get("generation")) or None


ANTHROPIC = Anthropic()
NOVA = Nova()
LLAMA = Llama(TEXT_COMPLETION)
OTHER = Family()
OTHER_EMBEDDINGS = Family(EMBEDDINGS)


def family_of(model_id: str, body: Mapping[str, Any]) -> Family:
    """The family of an InvokeModel request: from the model id, else (a provisioned-model ARN) the body."""
    base = base_model_id(model_id)
    if base.startswith("anthropic."):
        return ANTHROPIC
    if base.startswith("amazon.nova"):
        return NOVA
    if base.startswith("meta.llama"):
        return LLAMA
    if "embed" in base:
        return OTHER_EMBEDDINGS
    if "." in base:
        return OTHER  # a family named in the id that synapsekit does not read
    if "anthropic_version" in body:
        return ANTHROPIC
    if "messages" in body and ("schemaVersion" in body or "inferenceConfig" in body):
        return NOVA
    if "prompt" in body:
        return LLAMA
    return OTHER
