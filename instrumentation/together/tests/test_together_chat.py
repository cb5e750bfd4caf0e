"""together chat completions over HTTP: the chat suite the OpenAI-compatible generated SDKs share.

Its tests (``compatible_chat_suite``, in instrumentation/openai/tests/compatible_suite) are collected here,
with this directory's ``kit`` (``_together_testkit``).
"""

from compatible_chat_suite import *  # noqa: F403
