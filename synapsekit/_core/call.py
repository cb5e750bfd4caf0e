"""One LLM provider request, from start to finish: the record and its lifecycle.

``start → finish | fail``, each end idempotent. Instrumentors (and :class:`~synapsekit.BaseLLM`) drive it:

    call = start_call("openai", "chat", "gpt-4o-mini", server_address="api.openai.com")
    with call:                      # in flight: nested layers see it; an exception fails the call
        response = send(request)
    call.record_usage(input_tokens=..., output_tokens=...)
    call.finish()

**Counted once.** While a call is in flight it is the ContextVar's *active call*. A call started while
another is active is the same provider request seen by a layer closer to the wire (an instrumented SDK
under a ``BaseLLM``): the inner call becomes authoritative, inherits the outer one's enrichment
(attributes, prompt) and the outer one is marked *delegated* and reports nothing itself.

When a call ends it is priced and handed to the scopes that were active when it *started* (a stream may end
in another task, or in the garbage collector) and to the process-wide sinks.
"""

from __future__ import annotations

import contextvars
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, TypeVar

from synapsekit._core import (
    config as _config,
    context as _context,
    meters as _meters,
    sinks as _sinks,
    spans as _spans,
)
from synapsekit._core.context import active_scopes_var
from synapsekit._core.errors import report_internal_error
from synapsekit._core.estimate import estimate_tokens_from_chars
from synapsekit._core.exceptions import BudgetExceeded
from synapsekit._core.prompt import PromptParts
from synapsekit._pricing.callsite import warn_at_user
from synapsekit._pricing.prices import Cost, compute_cost

if TYPE_CHECKING:
    from types import TracebackType

    from synapsekit._core.scope import Scope, ScopeBatch

# What an instrumentor may pass as a call's prompt: the text, its parts, or a callable giving either
# (evaluated only if something needs it).
Prompt = str | PromptParts | Callable[[], str | PromptParts] | None
_T = TypeVar("_T")

active_call_var: contextvars.ContextVar[LLMCall | None] = contextvars.ContextVar(
    "synapsekit_active_call", default=None
)
# A stream's chunk allowance when no admitted scope asked for one: scopes are not told about chunks.
_NO_ALLOWANCE_LIMIT = sys.maxsize

MAX_PLAUSIBLE_TOKENS: Final = 1_000_000_000
"""The most tokens one field of one request's usage may report and be believed.

A billion tokens is hundreds of times the largest context window offered today; a count above it (like a
negative or non-integer one) comes from a broken provider or proxy. Such a count is never added to tallies
as is: it is treated as unknown, estimated, and the call is marked ``usage_estimated`` and
``usage_implausible``. Ledgers store nano-dollars in 64-bit integers, which this bound keeps far away.
"""


class ImplausibleUsageWarning(UserWarning):
    """A provider (or a proxy) reported token usage that cannot be right; it was replaced by an estimate."""


# (provider, field) pairs already warned about: one warning each per process.
_usage_warned: set[tuple[str, str]] = set()


class LLMCall:
    """The provider-agnostic record of one provider request.

    Token counts follow the OpenTelemetry GenAI conventions: ``input_tokens`` includes cached-read and
    cache-creation tokens, ``output_tokens`` includes reasoning tokens. ``None`` means not known.
    ``capture_content``: whether prompt and completion content may be recorded for this call (the
    process-wide setting when the call started); instrumentors read it rather than the setting.
    ``span_attributes``: what only a span shows (request parameters such as ``gen_ai.request.temperature``,
    response details such as ``openai.response.system_fingerprint``); instrumentors read those only when
    ``span`` records, so accounting never pays for them. Set on the span when it ends.
    ``chunk_times_ns``: when each chunk of a stream arrived, kept only while the GenAI metrics are recorded
    (their time per output chunk).
    """

    __slots__ = (
        "_admitted",
        "_chunk_allowance",
        "_cost",
        "_end_guard",
        "_enter_tokens",
        "_scope_hold",
        "_streamed_chars",
        "attributes",
        "budget_attributes",
        "cache_creation_input_tokens",
        "cached_input_tokens",
        "capture_content",
        "chunk_times_ns",
        "chunks",
        "delegated",
        "error",
        "error_type",
        "finish_reasons",
        "input_messages",
        "input_tokens",
        "latency_s",
        "max_output_tokens",
        "operation",
        "output_messages",
        "output_tokens",
        "prompt",
        "provider",
        "reasoning_tokens",
        "rejected",
        "request_model",
        "response_id",
        "response_model",
        "scopes",
        "server_address",
        "server_port",
        "span",
        "span_attributes",
        "start_ns",
        "start_time",
        "streamed",
        "time_to_first_chunk_s",
        "usage_estimated",
        "usage_implausible",
        "wire",
    )
    # What the one scope that admitted this call keeps about it on the call itself rather than in a dict of
    # its own keyed by id(call) (a lone budget's reservation: see synapsekit._budget.scope.BudgetScope.admit),
    # None otherwise. Set by start_call once a scope is in scope; only such calls reach a scope's hooks.
    _scope_hold: Any

    def __init__(
        self,
        provider: str,
        operation: str,
        request_model: str | None,
        *,
        streamed: bool = False,
        server_address: str | None = None,
        server_port: int | None = None,
        max_output_tokens: int | None = None,
        prompt: Prompt = None,
        attributes: dict[str, Any] | None = None,
        wire: bool = True,
    ) -> None:
        self._fill(
            provider,
            operation,
            request_model,
            streamed,
            server_address,
            server_port,
            max_output_tokens,
            prompt,
            attributes,
            wire,
        )

    def _fill(
        self,
        provider: str,
        operation: str,
        request_model: str | None,
        streamed: bool,
        server_address: str | None,
        server_port: int | None,
        max_output_tokens: int | None,
        prompt: Prompt,
        attributes: dict[str, Any] | None,
        wire: bool,
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.request_model = request_model
        self.response_model: str | None = None
        self.streamed = streamed
        self.server_address = server_address
        self.server_port = server_port
        self.max_output_tokens = max_output_tokens
        self.prompt = prompt
        self.attributes: dict[str, Any] = attributes if attributes is not None else {}
        self.wire = wire
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cached_input_tokens = 0
        self.cache_creation_input_tokens = 0
        self.reasoning_tokens = 0
        self.usage_estimated = False
        self.usage_implausible = False
        self.finish_reasons: tuple[str, ...] = ()
        # Prompt/completion content, set by instrumentors only when content capture is on (see _config);
        # decided once per call, read as an attribute (a settings call per read adds up on every request).
        capture = _config.capture_content_resolved
        self.capture_content: bool = _config.capture_content() if capture is None else capture
        self.input_messages: list[dict[str, Any]] | None = None
        self.output_messages: list[dict[str, Any]] | None = None
        self.response_id: str | None = None
        self.error_type: str | None = None
        self.error: BaseException | None = None
        self.rejected = False
        self.delegated = False
        # Priced lazily, on first read after the call ended: nobody reading the cost means no pricing work.
        self._cost: Cost | bool | None = False
        self.latency_s: float | None = None
        self.time_to_first_chunk_s: float | None = None
        self.chunks = 0
        self.scopes: tuple[Scope, ...] = ()
        self.span: Any = None
        self.span_attributes: dict[str, Any] | None = None
        self.chunk_times_ns: list[int] | None = None
        # Routine budget outcomes for the span (see synapsekit._budget.events.note_on_span).
        self.budget_attributes: dict[str, Any] | None = None
        self.start_time = time.time()
        self.start_ns = time.perf_counter_ns()
        # Scopes that admitted the call: a list or tuple only once a scope is in scope (start_call), the
        # empty tuple otherwise (accounting alone allocates nothing for it).
        self._admitted: list[Scope] | tuple[Scope, ...] = ()
        self._streamed_chars = 0
        # Admitted scopes hear about a chunk only once the streamed text passes this many characters (or
        # usage is reported mid-stream): see watch_chunks_past.
        self._chunk_allowance = _NO_ALLOWANCE_LIMIT
        # Made by the first __enter__: instrumentors' hot path sends through send() and never enters the call.
        self._enter_tokens: list[tuple[contextvars.Token[LLMCall | None], Any]] | None = None
        # Popping from a one-element list is atomic, so exactly one of several racing ends wins.
        self._end_guard: list[None] = [None]

    # -- reading ------------------------------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return not self._end_guard

    def _priced(self) -> Cost | None:
        cost = self._cost
        if cost is False:
            cost = None
            if not self._end_guard:  # self.ended
                # _price's body, in place: the first read of a call's cost (a frame fewer per priced call).
                model = self.response_model or self.request_model  # self.model
                try:
                    if model is not None and self.input_tokens is not None and self.output_tokens is not None:
                        cost = compute_cost(
                            self.provider,
                            model,
                            input_tokens=self.input_tokens,
                            output_tokens=self.output_tokens,
                            cached_input_tokens=self.cached_input_tokens,
                            cache_creation_input_tokens=self.cache_creation_input_tokens,
                            reasoning_tokens=self.reasoning_tokens,
                        )
                except Exception as exc:
                    report_internal_error("call.price", exc)
                self._cost = cost
        return cost  # type: ignore[return-value]

    @property
    def cost(self) -> Decimal | None:
        """Total cost in USD; ``None`` while in flight or when the model's price is unknown."""
        cost = self._cost
        if cost is False:  # not priced yet; once priced, read without a call (the span, budgets, metrics)
            cost = self._priced()
        return None if cost is None else cost.total  # type: ignore[union-attr]

    @property
    def input_cost(self) -> Decimal | None:
        cost = self._priced()
        return None if cost is None else cost.input

    @property
    def output_cost(self) -> Decimal | None:
        cost = self._priced()
        return None if cost is None else cost.output

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    @property
    def model(self) -> str | None:
        """The model that answered when known, else the one requested."""
        return self.response_model or self.request_model

    @property
    def prompt_text(self) -> str | None:
        prompt = self.prompt_source
        return prompt if prompt is None or type(prompt) is str else str(prompt)

    @property
    def prompt_source(self) -> str | PromptParts | None:
        """The prompt as the instrumentor gave it: a string, or parts not joined yet (their ``len()`` is the
        text's, without joining). A callable is evaluated once, here.
        """
        prompt = self.prompt
        if prompt is None or type(prompt) is str or type(prompt) is PromptParts:
            return prompt  # the common cases, checked without isinstance
        if isinstance(prompt, (str, PromptParts)):
            return prompt
        try:
            text = prompt()
        except Exception as exc:
            report_internal_error("call.prompt_text", exc)
            return None
        self.prompt = text
        return text

    @property
    def output_tokens_so_far(self) -> int:
        """Output tokens streamed so far: exact when reported, else estimated from the text received."""
        if self.output_tokens is not None:
            return self.output_tokens
        return estimate_tokens_from_chars(self._streamed_chars)

    # -- writing ------------------------------------------------------------------------------------------
    def record_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        estimated: bool = False,
    ) -> None:
        """Record usage; fields left ``None`` keep their value (a stream reports usage in pieces).

        A count that cannot be right — not an ``int``, negative, or above :data:`MAX_PLAUSIBLE_TOKENS` — is
        not recorded: the call is marked ``usage_implausible`` and the count is estimated when the call ends.

        The parameters may be passed by position, in this order (it does not change): on a hot path (every
        response of the openai instrumentor) a call with keyword arguments is one Python 3.11 does not
        specialise, ~600 instructions more than the same call by position.
        """
        # Each check inline (type, then range): this runs on every response.
        if input_tokens is not None:
            if type(input_tokens) is int and 0 <= input_tokens <= MAX_PLAUSIBLE_TOKENS:
                self.input_tokens = input_tokens
            else:
                self._implausible("input_tokens", input_tokens)
        if output_tokens is not None:
            if type(output_tokens) is int and 0 <= output_tokens <= MAX_PLAUSIBLE_TOKENS:
                self.output_tokens = output_tokens
            else:
                self._implausible("output_tokens", output_tokens)
        # The parts (cache, reasoning) only have their type checked here; their range is checked when the
        # call ends, with their totals (_check_usage_details): nothing reads them before, and a zero, their
        # usual value, then costs no further check.
        if cached_input_tokens is not None:
            if type(cached_input_tokens) is int:
                self.cached_input_tokens = cached_input_tokens
            else:
                self._implausible("cached_input_tokens", cached_input_tokens)
        if cache_creation_input_tokens is not None:
            if type(cache_creation_input_tokens) is int:
                self.cache_creation_input_tokens = cache_creation_input_tokens
            else:
                self._implausible("cache_creation_input_tokens", cache_creation_input_tokens)
        if reasoning_tokens is not None:
            if type(reasoning_tokens) is int:
                self.reasoning_tokens = reasoning_tokens
            else:
                self._implausible("reasoning_tokens", reasoning_tokens)
        if estimated:
            self.usage_estimated = True
        if self._admitted:
            self._chunk_allowance = -1  # reported counts may overrun a reservation: check at the next chunk

    def _implausible(self, field: str, value: object, why: str | None = None) -> None:
        """A usage count that cannot be right: keep it out of every tally, and say so once."""
        self.usage_implausible = True
        key = (self.provider, field)
        if key in _usage_warned:
            return
        _usage_warned.add(key)
        if why is None:
            why = f"expected an int from 0 to {MAX_PLAUSIBLE_TOKENS}"
        warn_at_user(
            f"{self.provider} reported {field}={value!r} for model {self.model!r}, which cannot be right"
            f" ({why}); it is treated as unknown and estimated (reported once per provider and field)",
            ImplausibleUsageWarning,
        )

    def _check_usage_details(self) -> None:
        """Cached and reasoning tokens are parts of the input and output totals; parts that cannot be right
        (not an int, negative, above the bound, above their total) are dropped. Then estimate what is missing.
        """
        for field in ("cached_input_tokens", "cache_creation_input_tokens", "reasoning_tokens"):
            value = getattr(self, field)
            if not 0 <= value <= MAX_PLAUSIBLE_TOKENS:
                self._implausible(field, value)
                setattr(self, field, 0)
        input_tokens = self.input_tokens
        if (
            input_tokens is not None
            and self.cached_input_tokens + self.cache_creation_input_tokens > input_tokens
        ):
            self._implausible(
                "cached_input_tokens",
                self.cached_input_tokens,
                f"with cache_creation_input_tokens={self.cache_creation_input_tokens}, more than the"
                f" input_tokens={input_tokens} that include them",
            )
            self.cached_input_tokens = self.cache_creation_input_tokens = 0
        output_tokens = self.output_tokens
        if output_tokens is not None and self.reasoning_tokens > output_tokens:
            self._implausible(
                "reasoning_tokens",
                self.reasoning_tokens,
                f"more than the output_tokens={output_tokens} that include them",
            )
            self.reasoning_tokens = 0
        if self.usage_implausible:
            self.estimate_missing_usage()
            self.usage_estimated = True

    def record_response(
        self,
        *,
        model: str | None = None,
        response_id: str | None = None,
        finish_reasons: tuple[str, ...] | None = None,
    ) -> None:
        if model:
            self.response_model = model
        if response_id:
            self.response_id = response_id
        if finish_reasons:
            self.finish_reasons = finish_reasons

    def chunk(self, text: str | None = None) -> None:
        """A streamed chunk arrived. Budgets in scope may raise :class:`BudgetExceeded` to cut the stream."""
        # The stream proxies count a chunk of a ``chunk_text`` reader in place when nothing below but the
        # count and the characters would change (not the first chunk, no chunk times, the allowance not
        # passed: see streams._sync_chunks); what this does in that case must stay what they do.
        times = self.chunk_times_ns
        if times is not None:
            times.append(time.perf_counter_ns())
        elif self.chunks == 0:
            now = time.perf_counter_ns()
            self.time_to_first_chunk_s = (now - self.start_ns) / 1e9
            # The gaps between chunks are only kept for the GenAI metrics (decided once, at the first chunk).
            if _meters.SDK_METRICS_MODULE in sys.modules and _meters.sdk_metrics() is not None:
                self.chunk_times_ns = [now]
        self.chunks += 1
        if text:
            self._streamed_chars += len(text)
        if self._admitted and self._streamed_chars > self._chunk_allowance:
            # Each scope asks again (watch_chunks_past) for the allowance it can absorb from here on.
            self._chunk_allowance = _NO_ALLOWANCE_LIMIT
            for scope in self._admitted:
                if not scope.sets_chunk_allowance:
                    self._chunk_allowance = -1
                scope.on_chunk(self)

    def watch_chunks_past(self, chars: int) -> None:
        """An admitted scope asks to hear about chunks only once the streamed text exceeds ``chars``.

        Budgets know how much text their reservation covers; below that a chunk cannot change anything,
        and a stream of many chunks should not pay for asking. ``-1`` asks for every chunk. Reported
        usage (:meth:`record_usage`) always triggers the next chunk's check.
        """
        if chars < self._chunk_allowance:
            self._chunk_allowance = chars

    # -- in flight ----------------------------------------------------------------------------------------
    def __enter__(self) -> LLMCall:
        token = active_call_var.set(self)
        span = self.span
        if span is None:
            span_token = None
        elif _spans._trace is not None:
            # _spans.attach's body in place (a frame fewer on every traced call): the span made current.
            span_token = _spans._context.attach(_spans._trace.set_span_in_context(span))
        else:
            span_token = _spans.attach(span)
        tokens = self._enter_tokens
        if tokens is None:
            self._enter_tokens = tokens = []
        tokens.append((token, span_token))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        token, span_token = self._enter_tokens.pop()  # type: ignore[union-attr]  # entered first
        if span_token is not None:
            _spans._context.detach(span_token)  # _spans.detach's body: a token means the API is loaded
        active_call_var.reset(token)
        if exc is not None:
            self.fail(exc)

    def send(self, fn: Callable[..., _T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _T:
        """``fn(*args, **kwargs)`` with this call in flight: what ``with call: fn(...)`` does, in one frame.

        For the instrumentors' hot path (every non-streamed request): entering and leaving the call as a context
        manager is two Python calls; this is one, and none of the span's work when there is no span. (The span's
        part is __enter__'s and __exit__'s, in place.)
        """
        token = active_call_var.set(self)
        span = self.span
        if span is None:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                active_call_var.reset(token)
                self.fail(exc)
                raise
            active_call_var.reset(token)
            return result
        if _spans._trace is not None:
            span_token = _spans._context.attach(_spans._trace.set_span_in_context(span))
        else:
            span_token = _spans.attach(span)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _spans._context.detach(span_token)
            active_call_var.reset(token)
            self.fail(exc)
            raise
        _spans._context.detach(span_token)
        active_call_var.reset(token)
        return result

    async def asend(
        self, fn: Callable[..., Awaitable[_T]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _T:
        """``await fn(*args, **kwargs)`` with this call in flight: :meth:`send` for a coroutine function.

        The context variables are set in this coroutine's frame, which runs in the caller's context: the
        awaited request sees them, and they are reset before the caller resumes, as ``with call:`` does.
        """
        token = active_call_var.set(self)
        span = self.span
        if span is None:
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                active_call_var.reset(token)
                self.fail(exc)
                raise
            active_call_var.reset(token)
            return result
        if _spans._trace is not None:
            span_token = _spans._context.attach(_spans._trace.set_span_in_context(span))
        else:
            span_token = _spans.attach(span)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _spans._context.detach(span_token)
            active_call_var.reset(token)
            self.fail(exc)
            raise
        _spans._context.detach(span_token)
        active_call_var.reset(token)
        return result

    # -- ending -------------------------------------------------------------------------------------------
    def finish(self) -> None:
        """The call completed; idempotent."""
        try:
            self._end_guard.pop()
        except IndexError:
            return
        self._end()

    def fail(self, exc: BaseException) -> None:
        """The call failed with ``exc`` (a provider error, a cancellation, a cut stream); idempotent."""
        try:
            self._end_guard.pop()
        except IndexError:
            return
        self.error = exc
        self.error_type = type(exc).__qualname__
        self._end()

    def abandon(self) -> None:
        """The caller stopped consuming a stream before the provider reported usage; idempotent.

        Missing counts are estimated (see :meth:`estimate_missing_usage`) and the call finishes.
        """
        if self.ended:
            return
        self.estimate_missing_usage()
        self.finish()

    def estimate_missing_usage(self, output_text: str | None = None) -> None:
        """Fill token counts the provider did not report from the text seen, and mark them estimated."""
        if output_text:
            self._streamed_chars += len(output_text)
        if self.output_tokens is None:
            self.output_tokens = estimate_tokens_from_chars(self._streamed_chars)
            self.usage_estimated = True
        if self.input_tokens is None and not self.delegated:
            prompt = self.prompt_source
            if prompt is not None:
                self.input_tokens = estimate_tokens_from_chars(len(prompt))
                self.usage_estimated = True

    def _end(self) -> None:
        self.latency_s = (time.perf_counter_ns() - self.start_ns) / 1e9
        if self.delegated:
            # A layer closer to the wire reported this request; admissions were already released.
            return
        if self.error is not None and self.input_tokens is None and self.output_tokens is None:
            if self.chunks:
                # Failed mid-stream (cancelled, connection dropped): output was produced and is billed.
                self.estimate_missing_usage()
            else:
                # Providers do not bill a request that failed before producing anything.
                self.input_tokens = 0
                self.output_tokens = 0
        if (
            self.usage_implausible
            or self.cached_input_tokens
            or self.cache_creation_input_tokens
            or self.reasoning_tokens
        ):
            self._check_usage_details()
        if not self.wire:
            try:
                _spans.start_late(self)
            except Exception as exc:
                report_internal_error("call.span_start", exc)
        scopes = self.scopes
        if scopes:  # none in scope (accounting alone): nothing to settle
            if len(scopes) == 1:
                # One scope in scope (one budget, one track()): ended by its own on_end, as below, no grouping.
                try:
                    scopes[0].on_end(self)
                except Exception as exc:
                    report_internal_error(f"scope.on_end:{type(scopes[0]).__name__}", exc)
            elif len(kinds := set(map(_batch_of, scopes))) == 1 and (only := kinds.pop()) is not None:
                # Every scope is of one batch (nested budgets): ended together, the grouping below not built
                # (the batches read in C, no bytecode per scope).
                try:
                    only.end(list(scopes), self)
                except Exception as exc:
                    report_internal_error(f"scope.on_end:{type(scopes[0]).__name__}", exc)
            else:
                # Scopes with a batch are ended together, per batch; a lone one (one budget in scope, the common
                # case) by its own on_end, with no grouping built (see ScopeBatch).
                lone: Scope | None = None
                # The scopes of the first batch seen, listed in place while every batched scope names it (nested
                # budgets: one list append each, no call); a second kind of batch groups them all (_grouped).
                first_batch: ScopeBatch | None = None
                listed: list[Scope] | None = None
                batches: dict[ScopeBatch, list[Scope]] | None = None
                for scope in scopes:
                    batch = scope.batch
                    if batch is not None:
                        if listed is not None and batch is first_batch:
                            listed.append(scope)  # a third nested budget and on: checked first
                        elif lone is None and batches is None and listed is None:
                            lone, first_batch = scope, batch
                        elif batch is first_batch and lone is not None:
                            listed, lone = [lone, scope], None
                        else:
                            batches = _grouped(batches, lone, listed, scope, batch)
                            lone = listed = None
                        continue
                    try:
                        scope.on_end(self)
                    except Exception as exc:
                        report_internal_error(f"scope.on_end:{type(scope).__name__}", exc)
                if listed is not None:
                    batches = {first_batch: listed}  # type: ignore[dict-item]
                if lone is not None:
                    try:
                        lone.on_end(self)
                    except Exception as exc:
                        report_internal_error(f"scope.on_end:{type(lone).__name__}", exc)
                elif batches is not None:
                    for batch, members in batches.items():
                        try:
                            if len(members) == 1:
                                members[0].on_end(self)
                            else:
                                batch.end(members, self)
                        except Exception as exc:
                            report_internal_error(f"scope.on_end:{type(members[0]).__name__}", exc)
        for sink in _sinks.sinks:
            try:
                sink.on_call_end(self)
            except Exception as exc:
                report_internal_error(f"sink.on_call_end:{type(sink).__name__}", exc)
        if _meters.SDK_METRICS_MODULE in sys.modules:  # no OpenTelemetry SDK metrics imported: none to record
            try:
                _meters.record(self)
            except Exception as exc:
                report_internal_error("call.metrics", exc)
        if self.span is not None:
            try:
                _spans.end(self)
            except Exception as exc:
                report_internal_error("call.span_end", exc)

    def _take_over_from(self, outer: LLMCall) -> None:
        """``self`` is the wire-level view of the request ``outer`` started: ``outer`` reports nothing."""
        outer.delegated = True
        for scope in outer._admitted:
            try:
                scope.release(outer)
            except Exception as exc:
                report_internal_error("scope.release", exc)
        outer._admitted = []
        if outer.attributes:
            self.attributes = {**outer.attributes, **self.attributes}
        if self.prompt is None:
            self.prompt = outer.prompt

    def __repr__(self) -> str:
        return (
            f"LLMCall({self.provider!r}, {self.operation!r}, {self.request_model!r},"
            f" input_tokens={self.input_tokens}, output_tokens={self.output_tokens}, cost={self.cost},"
            f" error_type={self.error_type!r}, estimated={self.usage_estimated})"
        )


def _grouped(
    batches: dict[ScopeBatch, list[Scope]] | None,
    lone: Scope | None,
    listed: list[Scope] | None,
    scope: Scope,
    batch: ScopeBatch,
) -> dict[ScopeBatch, list[Scope]]:
    """``batches`` with ``scope`` added to its batch's group; when there is no grouping yet, the scopes seen
    so far (``lone``, or the ``listed`` scopes of one batch) start it."""
    if batches is None:
        first = [lone] if lone is not None else listed
        assert first and first[0].batch is not None
        batches = {first[0].batch: first}
    members = batches.get(batch)
    if members is None:
        batches[batch] = [scope]
    else:
        members.append(scope)
    return batches


_new_call = object.__new__
# Read over every scope in scope in C (map, set, all: no bytecode per scope) to tell a nest of one batch.
_batch_of = attrgetter("batch")
_gates_calls = attrgetter("gates_calls")
_sets_chunk_allowance = attrgetter("sets_chunk_allowance")


def start_call(
    provider: str,
    operation: str,
    request_model: str | None,
    streamed: bool = False,
    server_address: str | None = None,
    server_port: int | None = None,
    max_output_tokens: int | None = None,
    prompt: Prompt = None,
    attributes: dict[str, Any] | None = None,
    wire: bool = True,
) -> LLMCall:
    """Start the record of one provider request and admit it against the budgets in scope.

    ``prompt`` may be a callable: it is only evaluated when something needs the text (a budget's
    reservation, a cost record's preview). ``wire=False`` marks an outer layer (a ``BaseLLM``) whose call
    is superseded if an instrumented SDK call happens inside it.

    Raises :class:`BudgetExceeded` when a budget in scope rejects the request; the rejected call is
    reported (``rejected=True``) and nothing was sent.

    The parameters may be passed by position, in this order (it does not change): a hot path's call by
    position is one Python 3.11 specialises, unlike a call with keyword arguments (~600 instructions less).
    """
    # Built as new-then-fill rather than LLMCall(...): calling a class with keyword arguments makes the
    # interpreter build a kwargs dict for __init__, a measurable share of an instrumented call's overhead.
    call = _new_call(LLMCall)
    call._fill(
        provider,
        operation,
        request_model,
        streamed,
        server_address,
        server_port,
        max_output_tokens,
        prompt,
        attributes,
        wire,
    )
    outer = active_call_var.get()
    if outer is not None and not outer.ended:
        call._take_over_from(outer)
    # active_scopes() inlined for the common case of no process-wide scope: this runs on every call.
    call.scopes = scopes = _context.active_scopes() if _context.global_scopes else active_scopes_var.get()
    for sink in _sinks.start_sinks:
        try:
            sink.on_call_start(call)
        except Exception as exc:
            report_internal_error(f"sink.on_call_start:{type(sink).__name__}", exc)
    if wire and _spans.OTEL_TRACE_MODULE in sys.modules:  # no OpenTelemetry imported: no span to start
        try:
            _spans.start(call)
        except Exception as exc:
            report_internal_error("call.span_start", exc)
    if scopes:  # none in scope (accounting alone): no admission to prepare
        # Set here rather than in _fill: only a call with scopes in scope is ever admitted or ended by one.
        call._scope_hold = None
        if len(scopes) == 1:
            # One scope in scope (one budget, one track()): admitted by its own admit, as below, no grouping.
            scope = scopes[0]
            if scope.gates_calls:
                try:
                    scope.admit(call)
                except BudgetExceeded as exc:
                    _refused(call, exc)
                    raise
                except Exception as exc:
                    report_internal_error(f"scope.admit:{type(scope).__name__}", exc)
                else:
                    call._admitted = scopes  # ``(scope,)``: the tuple at hand, nothing built
                    if not scope.sets_chunk_allowance:
                        call._chunk_allowance = -1  # it hears about every chunk
        elif (
            len(kinds := set(map(_batch_of, scopes))) == 1
            and (only := kinds.pop()) is not None
            and all(map(_gates_calls, scopes))
        ):
            # Every scope is of one batch (nested budgets): admitted together, the grouping below not built
            # (the batches read in C, no bytecode per scope).
            members = list(scopes)
            call._admitted = []
            try:
                only.admit(members, call)
            except BudgetExceeded as exc:
                _refused(call, exc)
                raise
            except Exception as exc:
                report_internal_error(f"scope.admit:{type(members[0]).__name__}", exc)
            else:
                call._admitted = members
                if not all(map(_sets_chunk_allowance, members)):
                    call._chunk_allowance = -1  # one of them hears about every chunk
        else:
            call._admitted = admitted = []
            lone: Scope | None = None
            # As in LLMCall._end: one batch's scopes listed in place, a dict only for a second kind of batch.
            first_batch: ScopeBatch | None = None
            listed: list[Scope] | None = None
            batches: dict[ScopeBatch, list[Scope]] | None = None
            for scope in scopes:
                if not scope.gates_calls:
                    continue
                batch = scope.batch
                if batch is not None:
                    # Admitted below, with every other scope of its kind (one ledger operation for all budgets); a
                    # lone one (one budget in scope, the common case) by its own admit, with no grouping built.
                    if listed is not None and batch is first_batch:
                        listed.append(scope)  # a third nested budget and on: checked first
                    elif lone is None and batches is None and listed is None:
                        lone, first_batch = scope, batch
                    elif batch is first_batch and lone is not None:
                        listed, lone = [lone, scope], None
                    else:
                        batches = _grouped(batches, lone, listed, scope, batch)
                        lone = listed = None
                    continue
                try:
                    scope.admit(call)
                except BudgetExceeded as exc:
                    _refused(call, exc)
                    raise
                except Exception as exc:
                    report_internal_error(f"scope.admit:{type(scope).__name__}", exc)
                    continue
                admitted.append(scope)
                if not scope.sets_chunk_allowance:
                    call._chunk_allowance = -1  # it hears about every chunk
            if listed is not None:
                batches = {first_batch: listed}  # type: ignore[dict-item]
            if lone is not None:
                try:
                    lone.admit(call)
                except BudgetExceeded as exc:
                    _refused(call, exc)
                    raise
                except Exception as exc:
                    report_internal_error(f"scope.admit:{type(lone).__name__}", exc)
                else:
                    admitted.append(lone)
                    if not lone.sets_chunk_allowance:
                        call._chunk_allowance = -1  # it hears about every chunk
            elif batches is not None:
                for batch, members in batches.items():
                    try:
                        if len(members) == 1:
                            members[0].admit(call)
                        else:
                            batch.admit(members, call)
                    except BudgetExceeded as exc:
                        _refused(call, exc)
                        raise
                    except Exception as exc:
                        report_internal_error(f"scope.admit:{type(members[0]).__name__}", exc)
                        continue
                    admitted += members
                    for member in members:  # a loop, not all(<genexpr>): two frames fewer on every call
                        if not member.sets_chunk_allowance:
                            call._chunk_allowance = -1  # it hears about every chunk
    return call


def _refused(call: LLMCall, exc: BudgetExceeded) -> None:
    """A scope refused ``call`` (having released its own admission): release the others, fail it."""
    for admitted in call._admitted:
        admitted.release(call)
    call._admitted = []
    call.rejected = True
    call.fail(exc)


def current_call() -> LLMCall | None:
    """The LLM call in flight in this context, if any."""
    return active_call_var.get()
