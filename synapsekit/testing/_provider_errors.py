"""Error bodies in each provider's JSON shape, so the SDKs raise their usual exception classes."""

from __future__ import annotations

from typing import Any, Literal

Provider = Literal["openai", "anthropic"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}

_OPENAI_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "unknown_url"),
    429: ("requests", "rate_limit_exceeded"),
}


def error_body(
    provider: Provider, status: int, message: str, *, request_id: str, param: str | None = None
) -> dict[str, Any]:
    if provider == "anthropic":
        default_type = "api_error" if status >= 500 else "invalid_request_error"
        return {
            "type": "error",
            "error": {"type": _ANTHROPIC_TYPES.get(status, default_type), "message": message},
            "request_id": request_id,
        }
    default = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    error_type, code = _OPENAI_TYPES.get(status, default)
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}
