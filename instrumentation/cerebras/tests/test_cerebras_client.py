"""The Cerebras client's own requests that are not LLM calls pass through uncounted."""

from __future__ import annotations

import inspect

import httpx
import pytest
from cerebras.cloud.sdk import Cerebras

from synapsekit.testing import CallRecorder, LLMTestServer

WARMS_CONNECTION = "warm_tcp_connection" in inspect.signature(Cerebras.__init__).parameters


@pytest.mark.skipif(not WARMS_CONNECTION, reason="this cerebras-cloud-sdk does not warm its connection")
@pytest.mark.usefixtures("instrumented")
def test_the_connection_warm_up_is_not_a_call(server: LLMTestServer, sink: CallRecorder) -> None:
    sent: list[tuple[str, str]] = []
    http_client = httpx.Client(event_hooks={"request": [lambda r: sent.append((r.method, r.url.path))]})
    # Building a client sends GET /v1/tcp_warming (the test server answers 404, which the SDK ignores).
    with Cerebras(
        base_url=server.cerebras_base_url, api_key="test", max_retries=0, http_client=http_client
    ) as client:
        assert sent == [("GET", "/cerebras/v1/tcp_warming")]
        assert sink.ended == []
        client.chat.completions.create(model="llama-3.3-70b", messages=[{"role": "user", "content": "hi"}])
    assert [call.operation for call in sink.ended] == ["chat"]
    assert server.request_count == 1
