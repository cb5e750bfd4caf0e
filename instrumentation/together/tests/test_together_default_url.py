"""With no ``base_url`` the SDK sends chat completions to an absolute URL: still routed, still counted.

The requests go to the real SDK's default URL and are redirected, below the SDK, to the local test server.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import together
from _together_testkit import V1_IN_BASE_URL
from compatible_chat_suite import ToTestServer

from synapsekit.testing import CallRecorder, LLMTestServer

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("streamed", [False, True])
def test_the_default_url_is_routed(
    server: LLMTestServer, sink: CallRecorder, streamed: bool, monkeypatch: Any
) -> None:
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)
    transport = ToTestServer(server, "together")
    with together.Together(
        api_key="test", max_retries=0, http_client=httpx.Client(transport=transport)
    ) as client:
        response = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one two three"}], stream=streamed
        )
        if streamed:
            list(response)
    # together 3 sends its chat completions to a host of their own; together 2 under its base URL.
    expected = (
        f"{str(client.base_url).rstrip('/')}/chat/completions"
        if V1_IN_BASE_URL
        else "https://api-inference.together.ai/v1/chat/completions"
    )
    assert transport.addressed == [expected]
    call = sink.only
    assert (call.provider, call.request_model, call.input_tokens, call.output_tokens) == (
        "together_ai",
        MODEL,
        3,
        12,
    )
    # The server address is the host the request went to.
    assert (call.usage_estimated, call.server_port) == (False, 443)
    assert call.server_address == httpx.URL(expected).host
    assert server.request_count == 1
