"""Cohere usage → synapsekit counts: what is **billed**, not what the model read and wrote.

A v2 chat response reports two pairs of counts. ``usage.tokens`` is what the model really processed,
including the prompt template Cohere wraps every request in and the end-of-turn token; ``usage.billed_units``
is what the account is charged for. synapsekit counts for spend and budgets, so it records the billed units;
the template tokens would otherwise inflate every call's input (by tens of tokens) and its cost.
``usage.cached_tokens`` (prompt tokens served from Cohere's cache) is recorded as cache reads within the
billed input. Embed responses report ``meta.billed_units.input_tokens``.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import LLMCall

from ._request import count, field, str_value


def record_chat_usage(call: LLMCall, usage: Any) -> None:
    billed = field(usage, "billed_units")
    input_tokens = count(field(billed, "input_tokens"))
    cached = count(field(usage, "cached_tokens"))
    if cached is not None and input_tokens is not None:
        cached = min(cached, input_tokens)  # never more cache reads than billed input
    call.record_usage(
        input_tokens=input_tokens,
        output_tokens=count(field(billed, "output_tokens")),
        cached_input_tokens=cached,
    )


def record_embed_usage(call: LLMCall, response: Any) -> None:
    billed = field(field(response, "meta"), "billed_units")
    call.record_usage(input_tokens=count(field(billed, "input_tokens")), output_tokens=0)
    call.record_response(response_id=str_value(field(response, "id")))
