"""The openai SDK types the wrappers recognise, looked up once the SDK is imported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


@dataclass(frozen=True)
class SDK:
    stream: type[Any]
    async_stream: type[Any]
    legacy_response: type[Any]
    api_response: type[Any]
    async_api_response: type[Any]


def load_sdk() -> SDK:
    from openai import AsyncStream, Stream
    from openai._legacy_response import LegacyAPIResponse
    from openai._response import APIResponse, AsyncAPIResponse

    return SDK(Stream, AsyncStream, LegacyAPIResponse, APIResponse, AsyncAPIResponse)
