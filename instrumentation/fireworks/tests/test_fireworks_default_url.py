"""With no ``base_url`` the SDK sends chat completions to an absolute URL: still routed, still counted.

The requests go to the real SDK's default URL and are redirected, below the SDK, to the local test server.
"""

from __future__ import annotations

from typing import Any

import fireworks
import httpx
import pytest
from compatible_chat_suite import ToTestServer

from synapsekit.testing import CallRecorder, LLMTestServer

MODEL = "accounts/fireworks/models/deepseek-v3p2"


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("streamed", [False, True])
def test_the_default_url_is_routed(
    server: LLMTestServer, sink: CallRecorder, streamed: bool, monkeypatch: Any
) -> None:
    monkeypatch.delenv("FIREWORKS_BASE_URL", raising=False)
    transport = ToTestServer(server, "fireworks", "/inference")
    with fireworks.Fireworks(
        api_key="test", max_retries=0, http_client=httpx.Client(transport=transport)
    ) as client:
        response = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one two three"}], stream=streamed
        )
        if streamed:
            list(response)
    assert transport.addressed == ["https://api.fireworks.ai/inference/v1/chat/completions"]
    call = sink.only
    assert (call.provider, call.request_model, call.input_tokens, call.output_tokens) == (
        "fireworks_ai",
        MODEL,
        3,
        12,
    )
    assert (call.usage_estimated, call.server_address, call.server_port) == (False, "api.fireworks.ai", 443)
    assert server.request_count == 1
