"""A local OpenAI- and Anthropic-compatible HTTP server for tests, demos and users' own test suites.

It speaks enough of both APIs for the real ``openai`` and ``anthropic`` SDKs to work unchanged, answers
deterministically, and injects faults on demand. Standard library only; it binds 127.0.0.1 on an
ephemeral port by default and starts in a few milliseconds::

    from synapsekit.testing import LLMTestServer

    with LLMTestServer(output_tokens=5) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi there"}]
        )
        assert reply.usage.prompt_tokens == 2 and reply.usage.completion_tokens == 5
        assert reply.choices[0].message.content == "Hello from the synapsekit test server:"

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/responses``, ``POST /v1/embeddings`` (OpenAI, base URL
:attr:`LLMTestServer.openai_base_url`), ``POST /v1/messages`` (Anthropic, base URL
:attr:`LLMTestServer.anthropic_base_url`), and ``GET /health``. Any other path is a JSON 404.

Usage rules (exact, other tests rely on them):

* **Input tokens**: the ``input_tokens`` constructor value if set, else the number of whitespace-separated
  words over all text in the request -- chat ``messages``; Responses ``instructions`` and ``input``;
  Anthropic ``system`` and ``messages`` -- counting string contents and every content part that has a
  string ``text`` field; minimum 1. Embeddings: the sum of the words of each input (a token-id array
  counts its length), minimum 1.
* **Output tokens**: the ``x-test-output-tokens`` header, else ``output_tokens`` (default 12), capped by the
  request's smallest ``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens``. When the cap cuts
  it, the finish reason is ``"length"`` (chat) or ``"max_tokens"`` (Anthropic); otherwise ``"stop"`` /
  ``"end_turn"``. Responses always end ``"completed"``.
* **Text**: that many words, one word per token, taken cyclically from :data:`SENTENCE`
  (``"Hello from the synapsekit test server: every word here is one token."``), joined by single spaces.
  A stream sends exactly one word per content chunk / delta (every word but the first with its leading
  space), so the deltas concatenate to the full text. With a JSON-schema ``response_format`` (chat) or
  ``text.format`` (Responses) the text is instead a compact JSON document filling the schema -- strings
  take successive sentence words, integers and numbers share one counter (1, 2, 3...; a number adds 0.5),
  booleans are true, arrays hold one item, enums take their first value -- streamed in
  ``min(output_tokens, len(text))`` slices (at least one); ``json_object`` gives ``{"text": <the words>}``.
  Usage numbers are unchanged.
* **Cache and reasoning tokens**: ``cached_tokens``, ``reasoning_tokens`` and ``cache_creation_tokens``
  from the constructor or the matching header. OpenAI reports them inside its totals (``prompt_tokens``
  includes ``cached_tokens``; ``completion_tokens`` includes ``reasoning_tokens``; Responses reports
  ``cache_creation_tokens`` as ``input_tokens_details.cache_write_tokens``). Anthropic's ``input_tokens``
  excludes the cache: it is ``max(input - cached - cache_creation, 0)`` beside ``cache_read_input_tokens
  = cached`` and ``cache_creation_input_tokens = cache_creation``; reasoning tokens appear as
  ``usage.output_tokens_details.thinking_tokens`` when non-zero. So ``input_tokens=100, cached_tokens=80``
  gives OpenAI ``prompt_tokens=100`` and Anthropic ``input_tokens=20, cache_read_input_tokens=80``.
* **Model**: ``response_models.get(request_model, request_model)`` (e.g. to answer with a dated name).
* **Streams**: chat sends a role chunk, one chunk per piece, a finish chunk, then -- only with
  ``stream_options.include_usage`` -- a usage chunk with ``choices: []`` (every other chunk then carries
  ``usage: null``), then ``data: [DONE]``. Responses and Anthropic send their real typed event sequences;
  Anthropic's ``message_start`` reports ``output_tokens: 1`` and ``message_delta`` the final total.
* **Embeddings**: unit vectors of dimension 8 (or ``dimensions``) derived from a SHA-256 of each input,
  exactly representable in float32, so ``encoding_format="base64"`` and ``"float"`` decode equally.

Per-request headers (the SDKs send them with ``extra_headers=``):
``x-test-input-tokens``, ``x-test-output-tokens``, ``x-test-cached-tokens``, ``x-test-reasoning-tokens``,
``x-test-cache-creation-tokens`` override the numbers above; ``x-test-latency-ms`` delays the answer
(default ``latency_s``); ``x-test-status: 429`` answers with that error in the provider's JSON format
(``x-test-retry-after`` seconds adds a ``retry-after`` header); ``x-test-drop-after: K`` streams K content
chunks and then hangs up without ending the HTTP body (a non-streaming request is hung up on unanswered);
``x-test-chunk-delay-ms`` sleeps between stream events. A malformed header value is a 400.

Faults and records: :meth:`LLMTestServer.fail_next` queues errors for the next model requests (they take
precedence over ``x-test-status``). A body that is not a JSON object is a 400. Every request to a model
endpoint -- answered or failed -- is counted in :attr:`~LLMTestServer.request_count` and recorded in
:attr:`~LLMTestServer.requests` (method, path, lower-cased headers, parsed JSON body).

Run one by hand with ``python -m synapsekit.testing [--port N]``; it prints its base URL.
"""

from synapsekit._core.lazy import attach_stub

# Public names are listed once, in __init__.pyi; loading them lazily keeps grpc and protobuf (the OTLP
# receiver's) out of processes that only need the LLM server.
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__, globals())
