"""A local LLM API server for tests, demos and users' own test suites, in seven providers' wire formats.

It speaks enough of the OpenAI, Anthropic, Gemini (and Vertex AI), Bedrock, Mistral, Cohere and Ollama APIs
for their real SDKs to work unchanged over HTTP, answers deterministically, and injects faults on demand.
Standard library only; it binds 127.0.0.1 on an ephemeral port by default and starts in a few
milliseconds::

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
:attr:`LLMTestServer.anthropic_base_url`), the endpoints of the sections below, and ``GET /health``. Any
other path is a JSON 404, in the error format of the provider the path looks like.

Usage rules (exact, other tests rely on them):

* **Input tokens**: the ``input_tokens`` constructor value if set, else the number of whitespace-separated
  words over all text in the request -- chat ``messages``; Responses ``instructions`` and ``input``;
  Anthropic ``system`` and ``messages``; the fields each section below names -- counting string contents
  and every content part that has a string ``text`` field; minimum 1. Embeddings: the sum of the words of
  each input (a token-id array counts its length), minimum 1.
* **Output tokens**: the ``x-test-output-tokens`` header, else ``output_tokens`` (default 12), capped by the
  request's smallest ``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens`` (or the provider's
  own parameter, below). When the cap cuts it, the finish reason is ``"length"`` (chat) or ``"max_tokens"``
  (Anthropic); otherwise ``"stop"`` / ``"end_turn"``. Responses always end ``"completed"``.
* **Text**: that many words, one word per token, taken cyclically from :data:`SENTENCE`
  (``"Hello from the synapsekit test server: every word here is one token."``), joined by single spaces --
  the same text for every provider, whatever its reasoning count. A stream sends exactly one word per
  content chunk / delta (every word but the first with its leading space), so the deltas concatenate to the
  full text. With a JSON-schema ``response_format`` (chat) or ``text.format`` (Responses) the text is
  instead a compact JSON document filling the schema -- strings take successive sentence words, integers
  and numbers share one counter (1, 2, 3...; a number adds 0.5), booleans are true, arrays hold one item,
  enums take their first value -- streamed in ``min(output_tokens, len(text))`` slices (at least one);
  ``json_object`` gives ``{"text": <the words>}``. Usage numbers are unchanged.
* **Cache and reasoning tokens**: ``cached_tokens``, ``reasoning_tokens`` and ``cache_creation_tokens``
  from the constructor or the matching header. OpenAI reports them inside its totals (``prompt_tokens``
  includes ``cached_tokens``; ``completion_tokens`` includes ``reasoning_tokens``; Responses reports
  ``cache_creation_tokens`` as ``input_tokens_details.cache_write_tokens``). Anthropic's ``input_tokens``
  excludes the cache: it is ``max(input - cached - cache_creation, 0)`` beside ``cache_read_input_tokens
  = cached`` and ``cache_creation_input_tokens = cache_creation``; reasoning tokens appear as
  ``usage.output_tokens_details.thinking_tokens`` when non-zero. So ``input_tokens=100, cached_tokens=80``
  gives OpenAI ``prompt_tokens=100`` and Anthropic ``input_tokens=20, cache_read_input_tokens=80``. The
  sections below say where each other provider reports them.
* **Model**: ``response_models.get(request_model, request_model)`` (e.g. to answer with a dated name); for
  Gemini and Bedrock the request model is the (decoded) model id in the URL.
* **Streams**: chat sends a role chunk, one chunk per piece, a finish chunk, then -- only with
  ``stream_options.include_usage`` -- a usage chunk with ``choices: []`` (every other chunk then carries
  ``usage: null``), then ``data: [DONE]``. Responses and Anthropic send their real typed event sequences;
  Anthropic's ``message_start`` reports ``output_tokens: 1`` and ``message_delta`` the final total.
* **Embeddings**: unit vectors of dimension 8 (or the requested dimensions) derived from a SHA-256 of each
  input, exactly representable in float32, so ``encoding_format="base64"`` and ``"float"`` decode equally;
  the same text gives the same vector from every provider.

**Gemini** (``google-genai``: ``genai.Client(api_key="test", http_options={"base_url":
server.gemini_base_url})``): ``POST /{v1,v1beta,v1alpha}/models/{model}:generateContent``,
``:streamGenerateContent?alt=sse``, ``:embedContent`` and ``:batchEmbedContents`` (what
``models.embed_content`` sends). Vertex AI mode works offline too: ``vertexai=True`` with a project, a
location and ``credentials=google.oauth2.credentials.Credentials(token="test")`` (an unexpired token is used
as is) calls ``/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:...``, and with an
``api_key`` instead (express mode) ``/v1beta1/publishers/google/models/{model}:...``; Vertex also answers
``:predict``, which the SDK uses for ``text-embedding-*`` models. Input: the text parts of ``contents`` and
``systemInstruction``; cap: ``generationConfig.maxOutputTokens`` (``finishReason`` ``MAX_TOKENS``, else
``STOP``). ``usageMetadata``: ``promptTokenCount`` = input (the cache included), ``cachedContentTokenCount``
= cached, ``thoughtsTokenCount`` = reasoning, ``candidatesTokenCount`` = output - reasoning,
``totalTokenCount`` = input + output; as the real API does, zero cached and thoughts counts are left out
rather than sent as 0. A stream sends one chunk per word, each with ``usageMetadata`` holding the prompt
counts only (``totalTokenCount`` = input), then a last chunk with an empty text part, the finish reason and
the full usage. ``responseMimeType: application/json`` with a ``responseSchema`` (Gemini's capitalised
types) or ``responseJsonSchema`` gives JSON filled as above. Embeddings report ``usageMetadata`` {
``promptTokenCount``, ``totalTokenCount``} = input; ``:predict`` reports each instance's words as
``statistics.token_count`` (no header override) and ``metadata.billableCharacterCount``. Vertex answers add
``createTime`` and ``usageMetadata.trafficType``. Errors: ``{"error": {"code", "message", "status"}}`` with
Google's status names (429 ``RESOURCE_EXHAUSTED``...), raised as ``errors.ClientError`` /
``errors.ServerError``. Test headers: ``config={"http_options": {"headers": {...}}}``.

**Bedrock** (``boto3.client("bedrock-runtime", endpoint_url=server.bedrock_base_url,
region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")``; botocore retries
throttling and 5xx errors, so fault tests pass ``config=Config(retries={"total_max_attempts": 1})``):
``POST /model/{modelId}/converse``, ``/converse-stream``, ``/invoke`` and ``/invoke-with-response-stream``.
Model ids arrive percent-encoded (ARNs, ``...-v1:0``) and are decoded. Streams use the AWS event-stream
binary framing (prelude, headers, payload, CRC32s). Bedrock's input count excludes the cache, as
Anthropic's does: ``inputTokens = max(input - cached - cache_creation, 0)`` and ``totalTokens = inputTokens
+ outputTokens + cacheReadInputTokens + cacheWriteInputTokens``, the cache fields present only when
non-zero; reasoning has no field of its own. ``metrics.latencyMs`` and every Bedrock latency is the injected
latency in milliseconds (0 by default), so they are exact too.

* ``converse``: input from the ``system`` and ``messages`` text blocks, cap ``inferenceConfig.maxTokens``
  (``stopReason`` ``max_tokens``, else ``end_turn``). ``converse-stream`` sends ``messageStart``, one
  ``contentBlockDelta`` per word, ``contentBlockStop``, ``messageStop`` and ``metadata`` {``usage``,
  ``metrics``}.
* ``invoke``: the body format follows the model id (base ids, cross-region ``us.``/``eu.``/... profiles and
  ARNs that contain them), or the body's shape for ids that name no family (provisioned-model ARNs).
  ``anthropic.*``: the Messages body with ``anthropic_version`` (required; the model is in the URL),
  answered as the Anthropic Messages API is (``id`` ``msg_bdrk_...``), the stream relaying its events
  without pings. ``amazon.nova*``: ``system``/``messages`` blocks and ``inferenceConfig.maxTokens``;
  ``output.message``, ``stopReason`` and ``usage`` {``inputTokens``, ``outputTokens``, ``totalTokens``,
  ``cacheReadInputTokenCount``, ``cacheWriteInputTokenCount``} (always present); the stream sends
  ``messageStart``, ``contentBlockDelta`` per word, ``contentBlockStop``, ``messageStop`` and ``metadata``
  chunks. ``meta.llama*``: ``prompt`` and ``max_gen_len``; ``generation``, ``prompt_token_count``,
  ``generation_token_count``, ``stop_reason`` (``length``/``stop``); stream chunks carry one word and the
  cumulative generation count (the prompt count on the first only), then an empty last chunk with the stop
  reason; Llama has no cache, so cache headers change nothing. Another family is a ValidationException.
* ``invoke`` answers carry ``X-Amzn-Bedrock-Input-Token-Count`` (the family's input count),
  ``-Output-Token-Count`` and ``-Invocation-Latency`` headers (and ``-Cache-Read-Input-Token-Count`` /
  ``-Cache-Write-Input-Token-Count`` when non-zero). ``invoke-with-response-stream`` wraps each JSON chunk
  as a ``chunk`` event ``{"bytes": <base64>}``; the last chunk also carries
  ``amazon-bedrock-invocationMetrics`` {``inputTokenCount``, ``outputTokenCount``, ``invocationLatency``,
  ``firstByteLatency``, and the cache counts when non-zero}, as real Bedrock appends it.

Errors name the modelled exception in ``x-amzn-ErrorType`` (400 ValidationException, 401/403
AccessDeniedException, 404 ResourceNotFoundException, 408 ModelTimeoutException, 424 ModelErrorException,
429 ThrottlingException, 500 InternalServerException, 503 ServiceUnavailableException), so boto3 raises
``client.exceptions.ThrottlingException`` and the like. Test headers: boto3 takes none per call; add them in
a ``client.meta.events.register("before-send.bedrock-runtime.*", handler)`` handler.

**Mistral** (``mistralai``: ``Mistral(api_key="test", server_url=server.mistral_base_url)``, which is
``{base_url}/mistral``): ``POST /mistral/v1/chat/completions`` and ``/mistral/v1/embeddings``. The
``/mistral`` prefix -- not the User-Agent -- selects Mistral's dialect: OpenAI chat's counting, cap
(``max_tokens``), finish reasons and ``response_format`` JSON, with ``usage.prompt_tokens_details.
cached_tokens`` (within ``prompt_tokens``), and a stream of a role chunk, one chunk per word, then a last
chunk with an empty delta, the finish reason and ``usage`` -- always, without ``stream_options`` -- then
``data: [DONE]``. Pointed at the plain ``/v1`` paths, mistralai gets OpenAI's dialect (no usage in
streams). Embeddings take ``output_dimension`` and report ``usage.prompt_tokens``. Errors: ``{"object":
"error", "message", "type", "param", "code"}`` (``errors.SDKError``), a 422 as ``{"detail": [...]}``
(``errors.HTTPValidationError``). Test headers: ``http_headers={...}``.

**Groq, Cerebras, Together AI, Fireworks AI** (their generated SDKs, each with ``base_url=`` set to
``server.groq_base_url``, ``cerebras_base_url`` (``{base_url}/cerebras``), ``together_base_url``
(``{base_url}/together``) or ``fireworks_base_url`` (``{base_url}/fireworks``)): OpenAI's chat completions,
counted, capped and reported as above, at ``POST /openai/v1/chat/completions`` (where groq sends them; OpenAI's
dialect) and ``POST /{cerebras,together,fireworks}/v1/chat/completions``. Under those three prefixes a stream
reports ``usage`` on its finish chunk whatever ``stream_options`` says, as those providers do, and sends no
usage-only chunk.

**Cohere** (``cohere.ClientV2(api_key="test", base_url=server.cohere_base_url, max_retries=0)``, also
``AsyncClientV2``; the SDK retries 429 and 5xx twice by default): ``POST /v2/chat`` and ``POST /v2/embed``.
Chat input: the text of ``messages``; cap ``max_tokens`` (``finish_reason`` ``MAX_TOKENS``, else
``COMPLETE``). ``usage.billed_units`` {``input_tokens``, ``output_tokens``} are the input and output counts
-- what is billed -- while ``usage.tokens`` also counts the prompt template and end-of-turn token the model
really reads and writes: ``input + 64`` and ``output + 1`` (``TEMPLATE_INPUT_TOKENS`` /
``TEMPLATE_OUTPUT_TOKENS`` in ``synapsekit.testing._cohere``), so counting the wrong one shows;
``usage.cached_tokens`` = cached. ``"stream": true`` sends the typed SSE events ``message-start``,
``content-start``, one ``content-delta`` per word, ``content-end`` and ``message-end`` (finish reason and
usage). Embed: the words of ``texts`` (or of ``inputs``' text parts), ``embedding_types`` ``float``,
``int8`` (``round(127 * v)``), ``uint8`` (that + 128) or ``base64`` (little-endian float32),
``output_dimension``; ``meta.billed_units.input_tokens`` = input. Errors: ``{"id", "message"}``, raised as
``TooManyRequestsError``, ``InternalServerError``... Test headers: ``request_options={"additional_headers":
{...}}``.

**Ollama** (``ollama.Client(host=server.ollama_base_url)``, also ``AsyncClient``): ``POST /api/chat``
(input: ``messages``), ``/api/generate`` (input: ``system`` and ``prompt``) and ``/api/embed``. Chat and
generate stream NDJSON unless the body says ``"stream": false`` (the SDK's default): one line per word with
``done: false``, then a ``done: true`` line with empty text, ``done_reason`` (``length`` when
``options.num_predict`` cut the output, else ``stop``; a negative ``num_predict`` caps nothing),
``prompt_eval_count`` = input, ``eval_count`` = output, and durations of exactly 1 ms (in nanoseconds) per
counted token (``load_duration`` 0). Ollama reports no cache or reasoning counts. Embed: an ``input``
string or strings, ``dimensions``; ``prompt_eval_count`` = input. Errors: ``{"error": message}`` (raised as
``ollama.ResponseError`` with ``status_code``). Test headers: ``Client(headers={...})``.

Per-request headers (``extra_headers=`` in openai and anthropic; each section above says how for its SDK):
``x-test-input-tokens``, ``x-test-output-tokens``, ``x-test-cached-tokens``, ``x-test-reasoning-tokens``,
``x-test-cache-creation-tokens`` override the numbers above; ``x-test-latency-ms`` delays the answer
(default ``latency_s``); ``x-test-status: 429`` answers with that error in the provider's JSON format
(``x-test-retry-after`` seconds adds a ``retry-after`` header); ``x-test-drop-after: K`` streams K content
chunks and then hangs up without ending the HTTP body (a non-streaming request is hung up on unanswered);
``x-test-chunk-delay-ms`` sleeps between stream events. A malformed header value is a 400.

Faults and records: :meth:`LLMTestServer.fail_next` queues errors for the next model requests (they take
precedence over ``x-test-status``). A body that is not a JSON object is a 400. Every request to a model
endpoint -- answered or failed -- is counted in :attr:`~LLMTestServer.request_count` and recorded in
:attr:`~LLMTestServer.requests` (method, path as sent -- still percent-encoded --, lower-cased headers,
parsed JSON body).

Run one by hand with ``python -m synapsekit.testing [--port N]``; it prints its base URL.
"""

from synapsekit._core.lazy import attach_stub

# Public names are listed once, in __init__.pyi; loading them lazily keeps grpc and protobuf (the OTLP
# receiver's) out of processes that only need the LLM server.
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__, globals())
