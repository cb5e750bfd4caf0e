"""Process-wide settings read by the instrumentation (content capture, redaction)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

_capture_content: bool | None = None
# The answer of capture_content() once known: LLMCall reads it when it starts, without a function call.
capture_content_resolved: bool | None = None
Redactor = Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]
_redactor: Redactor | None = None


def set_capture_content(capture: bool | None) -> None:
    """Record content (``True``) or not (``False``); ``None`` goes back to the environment variable."""
    global _capture_content, capture_content_resolved
    _capture_content = capture
    capture_content_resolved = capture


_capture_content_env: bool | None = None


def capture_content() -> bool:
    """Whether prompt/completion content may be recorded on spans: the explicit setting, else the env var.

    The environment variable is read once (this runs on every call); set it before the first LLM call, or
    use ``synapsekit.instrument(capture_content=...)``.
    """
    global _capture_content_env, capture_content_resolved
    if _capture_content is not None:
        return _capture_content
    if _capture_content_env is None:
        _capture_content_env = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in {"1", "true", "yes"}
    capture_content_resolved = _capture_content_env
    return _capture_content_env


def set_redactor(redactor: Redactor | None) -> None:
    """Install a hook that sees the structured messages before they are recorded (return None to drop)."""
    global _redactor
    _redactor = redactor


def redactor() -> Redactor | None:
    return _redactor
