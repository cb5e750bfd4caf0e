"""How one request is answered: token counts, overrides from ``x-test-*`` headers, faults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class InvalidRequest(Exception):
    """The request cannot be served; answered with a provider-formatted error (400 unless told)."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


@dataclass(frozen=True)
class ServerConfig:
    """The constructor's defaults; every field but the mapping can be overridden per request."""

    output_tokens: int = 12
    input_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0
    latency_s: float = 0.0
    response_models: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Overrides:
    """Per-request settings read from ``x-test-*`` headers; ``None`` means "use the server default"."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_creation_tokens: int | None = None
    latency_s: float | None = None
    status: int | None = None
    retry_after: float | None = None
    drop_after: int | None = None
    chunk_delay_s: float = 0.0


@dataclass(frozen=True)
class UsagePlan:
    """The numbers one model request reports; ``capped`` means the request's max-tokens limit cut it."""

    model: str
    input_tokens: int
    output_tokens: int
    capped: bool
    cached_tokens: int
    reasoning_tokens: int
    cache_creation_tokens: int


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidRequest(f"Header {name!r} must be a non-negative integer, got {raw!r}.") from None
    if value < 0:
        raise InvalidRequest(f"Header {name!r} must be a non-negative integer, got {raw!r}.")
    return value


def _header_seconds(headers: Mapping[str, str], name: str, *, scale: float) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise InvalidRequest(f"Header {name!r} must be a non-negative number, got {raw!r}.") from None
    if not value >= 0.0 or value == float("inf"):
        raise InvalidRequest(f"Header {name!r} must be a non-negative number, got {raw!r}.")
    return value * scale


def parse_overrides(headers: Mapping[str, str]) -> Overrides:
    """Read the ``x-test-*`` headers (keys already lower-case); a malformed value is a 400."""
    status = _header_int(headers, "x-test-status")
    if status is not None and not 400 <= status <= 599:
        raise InvalidRequest(f"Header 'x-test-status' must be an HTTP error status (400-599), got {status}.")
    return Overrides(
        input_tokens=_header_int(headers, "x-test-input-tokens"),
        output_tokens=_header_int(headers, "x-test-output-tokens"),
        cached_tokens=_header_int(headers, "x-test-cached-tokens"),
        reasoning_tokens=_header_int(headers, "x-test-reasoning-tokens"),
        cache_creation_tokens=_header_int(headers, "x-test-cache-creation-tokens"),
        latency_s=_header_seconds(headers, "x-test-latency-ms", scale=0.001),
        status=status,
        retry_after=_header_seconds(headers, "x-test-retry-after", scale=1.0),
        drop_after=_header_int(headers, "x-test-drop-after"),
        chunk_delay_s=_header_seconds(headers, "x-test-chunk-delay-ms", scale=0.001) or 0.0,
    )


def count_words(texts: Iterable[str]) -> int:
    return sum(len(text.split()) for text in texts)


def content_texts(content: Any) -> list[str]:
    """The text of a message content: a plain string, or every part carrying a string ``text``."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
    return []


def messages_texts(messages: Any) -> list[str]:
    if not isinstance(messages, list):
        return []
    texts: list[str] = []
    for message in messages:
        if isinstance(message, dict):
            texts.extend(content_texts(message.get("content")))
    return texts


def output_cap(body: Mapping[str, Any], keys: Iterable[str]) -> int | None:
    """The smallest max-tokens limit the request gives under any of ``keys``, or ``None``."""
    caps: list[int] = []
    for key in keys:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidRequest(f"'{key}' must be a non-negative integer.", param=key)
        caps.append(value)
    return min(caps) if caps else None


def request_model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    return model


def plan_usage(
    config: ServerConfig,
    overrides: Overrides,
    *,
    model: str,
    counted_input_tokens: int,
    cap: int | None,
) -> UsagePlan:
    """Apply the documented precedence: header override, then constructor value, then the counted words."""
    input_tokens = overrides.input_tokens
    if input_tokens is None:
        input_tokens = (
            config.input_tokens if config.input_tokens is not None else max(counted_input_tokens, 1)
        )
    wanted_output = overrides.output_tokens if overrides.output_tokens is not None else config.output_tokens
    capped = cap is not None and wanted_output > cap
    response_models = config.response_models or {}
    output_tokens = cap if capped and cap is not None else wanted_output
    # Like a real provider, the parts never exceed the whole: reasoning within the output, cache reads and
    # writes within the input.
    cached = min(_pick(overrides.cached_tokens, config.cached_tokens), input_tokens)
    cache_creation = min(
        _pick(overrides.cache_creation_tokens, config.cache_creation_tokens), input_tokens - cached
    )
    return UsagePlan(
        model=response_models.get(model, model),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        capped=capped,
        cached_tokens=cached,
        reasoning_tokens=min(_pick(overrides.reasoning_tokens, config.reasoning_tokens), output_tokens),
        cache_creation_tokens=cache_creation,
    )


def _pick(override: int | None, default: int) -> int:
    return default if override is None else override


@dataclass(frozen=True)
class RequestContext:
    """Everything an endpoint needs besides the body: settings, overrides and a unique sequence number."""

    config: ServerConfig
    overrides: Overrides
    sequence: int
    created: int

    def object_id(self, prefix: str) -> str:
        return f"{prefix}{self.sequence:024x}"

    def plan(self, *, model: str, counted_input_tokens: int, cap: int | None) -> UsagePlan:
        return plan_usage(
            self.config, self.overrides, model=model, counted_input_tokens=counted_input_tokens, cap=cap
        )
