"""Bedrock usage → synapsekit counts.

Bedrock reports its input count *without* the prompt cache (Converse's ``inputTokens`` beside
``cacheReadInputTokens`` / ``cacheWriteInputTokens``; Anthropic bodies' ``input_tokens`` beside
``cache_read_input_tokens`` / ``cache_creation_input_tokens``; Nova bodies' ``inputTokens`` beside
``cacheReadInputTokenCount`` / ``cacheWriteInputTokenCount``; the ``amazon-bedrock-invocationMetrics`` and the
``X-Amzn-Bedrock-*-Token-Count`` headers likewise). synapsekit follows the OpenTelemetry GenAI convention
instead: its ``input_tokens`` is the sum of the three, with the two cache counts kept separately because they
are priced differently.

A stream reports in pieces (the input first, the output at the end; some models repeat a running output
count): each field keeps its latest value, never a sum of reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapsekit.plugin import LLMCall


def count(mapping: Any, field: str) -> int | None:
    """``mapping[field]`` when it is a token count (a non-negative int), else None."""
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(field)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


class UsageCounts:
    """The latest value of each usage field one response reported so far."""

    __slots__ = ("cache_read", "cache_write", "input", "output", "output_final")

    def __init__(self) -> None:
        self.input: int | None = None  # without the cache, as Bedrock reports it
        self.cache_read: int | None = None
        self.cache_write: int | None = None
        self.output: int | None = None
        # A running output count mid-stream is not the bill; only a final report is recorded.
        self.output_final = False

    @property
    def has_input(self) -> bool:
        return self.input is not None

    @property
    def is_empty(self) -> bool:
        return self.input is None and self.output is None

    def update(
        self,
        mapping: Any,
        *,
        input_field: str,
        output_field: str | None,
        cache_read_field: str | None,
        cache_write_field: str | None,
        final: bool,
    ) -> None:
        """Take the counts ``mapping`` reports under these field names; the others keep their value."""
        if not isinstance(mapping, Mapping):
            return
        value = count(mapping, input_field)
        if value is not None:
            self.input = value
        if output_field is not None:
            value = count(mapping, output_field)
            if value is not None:
                self.output = value
                if final:
                    self.output_final = True
        if cache_read_field is not None:
            value = count(mapping, cache_read_field)
            if value is not None:
                self.cache_read = value
        if cache_write_field is not None:
            value = count(mapping, cache_write_field)
            if value is not None:
                self.cache_write = value

    def record(self, call: LLMCall) -> None:
        """Write the counts known so far to ``call`` (the output count only once it is final)."""
        cache_read = self.cache_read or 0
        cache_write = self.cache_write or 0
        call.record_usage(
            input_tokens=None if self.input is None else self.input + cache_read + cache_write,
            cached_input_tokens=cache_read,
            cache_creation_input_tokens=cache_write,
            output_tokens=self.output if self.output_final else None,
        )


def update_converse(counts: UsageCounts, usage: Any) -> None:
    """Converse / ConverseStream ``usage`` (final)."""
    counts.update(
        usage,
        input_field="inputTokens",
        output_field="outputTokens",
        cache_read_field="cacheReadInputTokens",
        cache_write_field="cacheWriteInputTokens",
        final=True,
    )


def update_invocation_metrics(counts: UsageCounts, metrics: Any) -> None:
    """``amazon-bedrock-invocationMetrics`` on a response stream's last chunk: Bedrock's own final count."""
    counts.update(
        metrics,
        input_field="inputTokenCount",
        output_field="outputTokenCount",
        cache_read_field="cacheReadInputTokenCount",
        cache_write_field="cacheWriteInputTokenCount",
        final=True,
    )


# InvokeModel answers carry Bedrock's counts as headers whatever the model family (botocore lower-cases them).
_HEADER_FIELDS = {
    "x-amzn-bedrock-input-token-count": "input",
    "x-amzn-bedrock-output-token-count": "output",
    "x-amzn-bedrock-cache-read-input-token-count": "cache_read",
    "x-amzn-bedrock-cache-write-input-token-count": "cache_write",
}


def update_from_headers(counts: UsageCounts, headers: Any) -> None:
    """Fill the counts the body did not give from the ``X-Amzn-Bedrock-*-Token-Count`` headers."""
    if not isinstance(headers, Mapping):
        return
    for header, attribute in _HEADER_FIELDS.items():
        raw = headers.get(header)
        if getattr(counts, attribute) is not None or not isinstance(raw, str) or not raw.isdigit():
            continue
        setattr(counts, attribute, int(raw))
        if attribute == "output":
            counts.output_final = True
