"""``POST /v1/embeddings``: deterministic unit vectors derived from a hash of each input."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from collections.abc import Mapping
from typing import Any

from ._plan import InvalidRequest, RequestContext, request_model
from ._sse import JSONReply, Reply

DEFAULT_DIMENSIONS = 8


def embeddings(body: dict[str, Any], ctx: RequestContext) -> Reply:
    model = request_model(body)
    inputs = _inputs(body.get("input"))
    dimensions = requested_dimensions(body, "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise InvalidRequest("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    plan = ctx.plan(model=model, counted_input_tokens=sum(_token_count(item) for item in inputs), cap=None)
    data = []
    for index, item in enumerate(inputs):
        vector = embedding_vector(item, dimensions)
        data.append({"object": "embedding", "index": index, "embedding": _encode(vector, encoding)})
    return JSONReply(
        {
            "object": "list",
            "data": data,
            "model": plan.model,
            "usage": {"prompt_tokens": plan.input_tokens, "total_tokens": plan.input_tokens},
        }
    )


def requested_dimensions(options: Mapping[str, Any], key: str) -> int:
    """The vector size ``options[key]`` asks for, else :data:`DEFAULT_DIMENSIONS` (shared by every provider)."""
    if key not in options:
        return DEFAULT_DIMENSIONS
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"'{key}' must be a positive integer.", param=key)
    return value


def _inputs(raw: Any) -> list[str | list[int]]:
    """Normalise the four accepted shapes (text, texts, token ids, lists of token ids) to a list."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(_is_token(token) for token in raw):
            return [list(raw)]
        if all(isinstance(item, str) for item in raw):
            return list(raw)
        if all(isinstance(item, list) and item and all(_is_token(t) for t in item) for item in raw):
            return [list(item) for item in raw]
    raise InvalidRequest(
        "'input' must be a string, a non-empty array of strings or a non-empty array of token arrays.",
        param="input",
    )


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _token_count(item: str | list[int]) -> int:
    return len(item.split()) if isinstance(item, str) else len(item)


def embedding_vector(item: str | list[int], dimensions: int) -> list[float]:
    """A unit-length vector, exactly representable as float32 so both encodings decode to the same floats."""
    seed = (item if isinstance(item, str) else json.dumps(item)).encode()
    raw: list[float] = []
    block = 0
    while len(raw) < dimensions:
        digest = hashlib.sha256(seed + block.to_bytes(4, "little")).digest()
        raw.extend(byte / 127.5 - 1.0 for byte in digest)
        block += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(value / norm for value in raw))
    return list(struct.unpack(f"<{dimensions}f", packed))


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
