"""usageMetadata → synapsekit counts, field by field (typed models, raw camelCase bodies, odd values)."""

from __future__ import annotations

from typing import Any

import pytest
from _gemini_testkit import MODEL, PROMPT, flash_cost
from google import genai
from google.genai import types
from synapsekit_instrumentation_google_genai._usage import record_usage

from synapsekit.plugin import LLMCall
from synapsekit.testing import CallRecorder


def counts(usage: Any) -> tuple[Any, ...]:
    call = LLMCall("gcp.gemini", "generate_content", MODEL)
    assert record_usage(call, usage)
    return (
        call.input_tokens,
        call.cached_input_tokens,
        call.output_tokens,
        call.reasoning_tokens,
    )


@pytest.mark.skipif(
    "tool_use_prompt_token_count" not in types.GenerateContentResponseUsageMetadata.model_fields,
    reason="google-genai 1.0 knows neither thoughts nor tool-use prompt counts",
)
def test_typed_usage_with_every_field() -> None:
    usage = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=100,
        cached_content_token_count=60,
        tool_use_prompt_token_count=7,
        candidates_token_count=20,
        thoughts_token_count=30,
        total_token_count=157,
    )
    # Input: the prompt (cache included) and the tool-use prompt; output: candidates and thoughts.
    assert counts(usage) == (107, 60, 50, 30)


def test_raw_camel_case_usage() -> None:
    usage = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 4,
        "thoughtsTokenCount": 2,
        "totalTokenCount": 16,
    }
    assert counts(usage) == (10, 0, 6, 2)


def test_thinking_recovered_from_the_total_when_the_sdk_dropped_the_field() -> None:
    assert counts({"prompt_token_count": 10, "candidates_token_count": 4, "total_token_count": 17}) == (
        10,
        0,
        7,
        3,
    )


def test_zero_counts_left_out_and_bad_values_ignored() -> None:
    assert counts({"prompt_token_count": 10}) == (10, 0, 0, 0)
    assert counts(
        {"prompt_token_count": 10, "candidates_token_count": True, "cached_content_token_count": -1}
    ) == (
        10,
        0,
        0,
        0,
    )
    call = LLMCall("gcp.gemini", "generate_content", MODEL)
    assert not record_usage(call, {"total_token_count": 3})
    assert (call.input_tokens, call.output_tokens) == (None, None)


def test_cached_count_never_exceeds_the_input() -> None:
    assert counts(
        {"prompt_token_count": 5, "cached_content_token_count": 9, "candidates_token_count": 1}
    ) == (
        5,
        5,
        1,
        0,
    )


@pytest.mark.skipif(
    "should_return_http_response" not in types.GenerateContentConfig.model_fields,
    reason="google-genai without should_return_http_response",
)
@pytest.mark.usefixtures("instrumented")
def test_unparsed_http_response_is_read_from_its_body(client: genai.Client, sink: CallRecorder) -> None:
    response = client.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(should_return_http_response=True)
    )
    assert response.usage_metadata is None and response.sdk_http_response is not None
    call = sink.only
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.response_model) == (
        4,
        12,
        False,
        MODEL,
    )
    assert call.cost == flash_cost(4, 12)


def chunk(text: str | None, usage: dict[str, int] | None, finish_reason: str | None = None) -> Any:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}} if text else {}
    if finish_reason:
        candidate["finishReason"] = finish_reason
    body: dict[str, Any] = {"candidates": [candidate] if candidate else []}
    if usage is not None:
        body["usageMetadata"] = usage
    return types.GenerateContentResponse._from_response(response=body, kwargs={})


def read(chunks: list[Any]) -> LLMCall:
    from synapsekit_instrumentation_google_genai._streams import GenerateContentStream

    call = LLMCall("gcp.gemini", "generate_content", MODEL, streamed=True)
    assert list(GenerateContentStream(iter(chunks), call)) == chunks
    assert call.ended
    return call


def test_stream_counts_the_final_chunk_only() -> None:
    prompt = {"promptTokenCount": 4, "totalTokenCount": 4}
    call = read(
        [chunk("a", prompt), chunk("b", prompt), chunk("", {**prompt, "candidatesTokenCount": 2}, "STOP")]
    )
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.finish_reasons) == (
        4,
        2,
        False,
        ("stop",),
    )


def test_stream_blocked_with_no_output() -> None:
    call = read([chunk(None, {"promptTokenCount": 4, "totalTokenCount": 4}, "SAFETY")])
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.finish_reasons) == (
        4,
        0,
        False,
        ("safety",),
    )


def test_stream_usage_after_the_finish_reason_replaces_it() -> None:
    prompt = {"promptTokenCount": 4, "totalTokenCount": 4}
    call = read(
        [
            chunk("a b", prompt, "STOP"),
            chunk(None, {**prompt, "candidatesTokenCount": 2, "totalTokenCount": 6}),
        ]
    )
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, 2, False)


def test_stream_without_a_finish_reason_uses_its_last_running_total() -> None:
    call = read([chunk("a", {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5})])
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, 1, False)
    call = read([chunk("abcdefgh", {"promptTokenCount": 4, "totalTokenCount": 4})])
    assert (call.input_tokens, call.output_tokens, call.usage_estimated) == (4, 2, True)
