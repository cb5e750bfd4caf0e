"""Gemini (``google-genai``): ``models/{model}:generateContent``, ``:streamGenerateContent``, embeddings.

The Gemini API (``/v1beta/models/M:method``) and Vertex AI (``/v1beta1/projects/P/locations/L/publishers/
google/models/M:method``) share this JSON format; Vertex answers add ``createTime`` and ``trafficType``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ._openai_embeddings import embedding_vector, requested_dimensions
from ._plan import InvalidRequest, RequestContext, UsagePlan, content_texts, count_words, output_cap
from ._sse import JSONReply, Reply, StreamReply, data_frame
from ._text import Completion, SchemaFiller, json_object_document, plain_reply, structured_reply


def generate_content(
    body: dict[str, Any], ctx: RequestContext, *, model: str, stream: bool, vertex: bool
) -> Reply:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified", param="contents")
    config = _object(body, "generationConfig")
    texts = _contents_texts(body.get("systemInstruction")) + _contents_texts(contents)
    plan = ctx.plan(
        model=model, counted_input_tokens=count_words(texts), cap=output_cap(config, ("maxOutputTokens",))
    )
    completion = _completion(config, plan.output_tokens)
    answer = _Answer(ctx, plan, vertex)
    if not stream:
        return JSONReply(answer.response(completion.text, final=True))
    # Every chunk carries usageMetadata, as the real API's do; only the last has the output counts.
    frames = [data_frame(answer.response(piece, final=False), is_content=True) for piece in completion.pieces]
    frames.append(data_frame(answer.response("", final=True)))
    return StreamReply(frames)


def _object(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{key}' must be an object.", param=key)
    return value


def _contents_texts(contents: Any) -> list[str]:
    """The text parts of one ``Content`` or a list of them (a bare string counts as one part)."""
    if isinstance(contents, str):
        return [contents]
    items = contents if isinstance(contents, list) else [contents]
    texts: list[str] = []
    for item in items:
        if isinstance(item, dict):
            texts.extend(content_texts(item.get("parts")))
        elif isinstance(item, str):
            texts.append(item)
    return texts


def _completion(config: Mapping[str, Any], output_tokens: int) -> Completion:
    if config.get("responseMimeType") != "application/json":
        return plain_reply(output_tokens)
    schema = config.get("responseJsonSchema", config.get("responseSchema"))
    if isinstance(schema, dict):
        return structured_reply(SchemaFiller(_lower_types(schema)).fill(), output_tokens)
    return structured_reply(json_object_document(output_tokens), output_tokens)


def _lower_types(schema: Any) -> Any:
    """Gemini's OpenAPI-style ``responseSchema`` spells types in capitals (``OBJECT``); JSON Schema does not."""
    if isinstance(schema, dict):
        return {
            key: value.lower() if key == "type" and isinstance(value, str) else _lower_types(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(item) for item in schema]
    return schema


class _Answer:
    """Builds ``GenerateContentResponse`` bodies for one request (the whole answer, or one stream chunk)."""

    def __init__(self, ctx: RequestContext, plan: UsagePlan, vertex: bool) -> None:
        self._ctx = ctx
        self._plan = plan
        self._vertex = vertex

    def response(self, text: str, *, final: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
        if final:
            candidate["finishReason"] = "MAX_TOKENS" if self._plan.capped else "STOP"
        candidate["index"] = 0
        body: dict[str, Any] = {"candidates": [candidate], "usageMetadata": self._usage(final=final)}
        body["modelVersion"] = self._plan.model
        if self._vertex:
            created = datetime.datetime.fromtimestamp(self._ctx.created, datetime.timezone.utc)
            body["createTime"] = created.isoformat().replace("+00:00", "Z")
        body["responseId"] = self._ctx.object_id("")
        return body

    def _usage(self, *, final: bool) -> dict[str, Any]:
        """Gemini's counts: the prompt includes the cache; thoughts sit beside the candidates, not in them."""
        plan = self._plan
        usage: dict[str, Any] = {"promptTokenCount": plan.input_tokens}
        if final:
            usage["candidatesTokenCount"] = plan.output_tokens - plan.reasoning_tokens
        usage["totalTokenCount"] = plan.input_tokens + (plan.output_tokens if final else 0)
        # Like the real API, zero cache and thoughts counts are left out rather than sent as 0.
        if plan.cached_tokens:
            usage["cachedContentTokenCount"] = plan.cached_tokens
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": plan.input_tokens}]
        if plan.cached_tokens:
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": plan.cached_tokens}]
        if final and plan.reasoning_tokens:
            usage["thoughtsTokenCount"] = plan.reasoning_tokens
        if self._vertex:
            usage["trafficType"] = "ON_DEMAND"
        return usage


# -- embeddings ------------------------------------------------------------------------------------------


def embed_content(body: dict[str, Any], ctx: RequestContext, *, model: str, vertex: bool) -> Reply:
    """One content: the Gemini API's ``:embedContent`` and Vertex's for ``gemini-embedding`` models."""
    text = _embedding_text(body.get("content"), "content")
    dimensions = _embedding_dimensions(body, vertex)
    plan = ctx.plan(model=model, counted_input_tokens=count_words([text]), cap=None)
    reply: dict[str, Any] = {
        "embedding": {"values": embedding_vector(text, dimensions)},
        "usageMetadata": _embedding_usage(plan),
    }
    if vertex:
        reply["truncated"] = False
    return JSONReply(reply)


def batch_embed_contents(body: dict[str, Any], ctx: RequestContext, *, model: str, vertex: bool) -> Reply:
    """Several contents: what ``models.embed_content`` sends on the Gemini API (and Vertex for lists)."""
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise InvalidRequest(
            "* BatchEmbedContentsRequest.requests: requests is not specified", param="requests"
        )
    texts: list[str] = []
    vectors: list[dict[str, Any]] = []
    for index, request in enumerate(requests):
        if not isinstance(request, dict):
            raise InvalidRequest(f"'requests[{index}]' must be an object.", param="requests")
        text = _embedding_text(request.get("content"), f"requests[{index}].content")
        texts.append(text)
        vectors.append({"values": embedding_vector(text, _embedding_dimensions(request, vertex))})
    plan = ctx.plan(model=model, counted_input_tokens=count_words(texts), cap=None)
    return JSONReply({"embeddings": vectors, "usageMetadata": _embedding_usage(plan)})


def predict(body: dict[str, Any], ctx: RequestContext) -> Reply:
    """Vertex ``:predict`` for ``text-embedding-*`` models; counts are per instance (no header override)."""
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise InvalidRequest("'instances' must be a non-empty array.", param="instances")
    dimensions = requested_dimensions(_object(body, "parameters"), "outputDimensionality")
    texts: list[str] = []
    for index, instance in enumerate(instances):
        content = instance.get("content") if isinstance(instance, dict) else None
        if not isinstance(content, str):
            raise InvalidRequest(f"'instances[{index}].content' must be a string.", param="instances")
        texts.append(content)
    predictions = [
        {
            "embeddings": {
                "values": embedding_vector(text, dimensions),
                "statistics": {"token_count": len(text.split()), "truncated": False},
            }
        }
        for text in texts
    ]
    return JSONReply(
        {"predictions": predictions, "metadata": {"billableCharacterCount": sum(len(t) for t in texts)}}
    )


def _embedding_text(content: Any, param: str) -> str:
    if not isinstance(content, dict) or not isinstance(content.get("parts"), list):
        raise InvalidRequest(f"'{param}' must be a Content object with 'parts'.", param=param)
    return " ".join(content_texts(content["parts"]))


def _embedding_dimensions(request: Mapping[str, Any], vertex: bool) -> int:
    # The Gemini API takes outputDimensionality on the request; Vertex inside embedContentConfig.
    options = _object(request, "embedContentConfig") if vertex else request
    return requested_dimensions(options, "outputDimensionality")


def _embedding_usage(plan: UsagePlan) -> dict[str, Any]:
    return {"promptTokenCount": plan.input_tokens, "totalTokenCount": plan.input_tokens}
