"""Error bodies (and headers) in each provider's format, so the SDKs raise their usual exception classes."""

from __future__ import annotations

from typing import Any, Literal

Provider = Literal["openai", "anthropic", "gemini", "bedrock", "mistral", "cohere", "ollama"]

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

# google.rpc.Code names, which Google puts in ``error.status``.
_GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# botocore picks the exception class from the error code, so each status maps to a modelled Bedrock error.
_BEDROCK_CODES = {
    400: "ValidationException",
    401: "AccessDeniedException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}

_MISTRAL_TYPES = {
    401: "unauthorized",
    404: "not_found",
    429: "rate_limited",
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
    if provider == "gemini":
        default_status = "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"
        return {
            "error": {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUSES.get(status, default_status),
            }
        }
    if provider == "bedrock":
        return {"message": message}
    if provider == "mistral":
        if status == 422:
            # The SDK parses a 422 as FastAPI's validation error and raises HTTPValidationError.
            return {
                "detail": [
                    {"type": "value_error", "loc": ["body", param] if param else ["body"], "msg": message}
                ]
            }
        default_type = "internal_server_error" if status >= 500 else "invalid_request_error"
        return {
            "object": "error",
            "message": message,
            "type": _MISTRAL_TYPES.get(status, default_type),
            "param": param,
            "code": str(status),
        }
    if provider == "cohere":
        return {"id": request_id, "message": message}
    if provider == "ollama":
        return {"error": message}
    default = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    error_type, code = _OPENAI_TYPES.get(status, default)
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_headers(provider: Provider, status: int) -> dict[str, str]:
    """Headers an error response needs besides the body (AWS names the error in a header)."""
    if provider == "bedrock":
        code = _BEDROCK_CODES.get(
            status, "InternalServerException" if status >= 500 else "ValidationException"
        )
        return {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    return {}
