"""One span per request when the anthropic SDK traces its own calls.

anthropic >= 1.17 starts a ``CLIENT`` span per API call (``anthropic.messages.create``) whenever its client's
``open_telemetry`` option (default: on; ``ANTHROPIC_OPEN_TELEMETRY=false`` or ``open_telemetry=False`` turns
it off) lets it. synapsekit respects that choice:

* **SDK spans on** — the SDK's span *is* the call's span. synapsekit starts no span of its own: it adopts
  the one the SDK starts for the request it instruments, adds its own attributes (OTel-convention input
  tokens including the cache, cost, estimation flags, ...) and ends it when the call is finalised, so the
  span also covers what synapsekit learns last (the stream's final usage, a budget cut).
* **SDK spans off** — synapsekit emits its usual GenAI span (``chat {model}``), current during the request.

The SDK holds a handle whose ``end()`` is left to synapsekit; everything else reaches the SDK's span, under
one naming: the SDK's ``gen_ai.usage.cache_write.input_tokens`` is written under the conventions' name,
``gen_ai.usage.cache_creation.input_tokens``, the one synapsekit's own spans use.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

import wrapt

from synapsekit import semconv
from synapsekit.plugin import report_internal_error, unwrap_method, wrap_method

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall

SDK_SPAN_NAME = "anthropic.messages.create"
_HOOK_MODULE = "anthropic._base_client"
_HOOK_ATTRIBUTE = "start_api_call_span"

# The call whose request the SDK is about to send; set only around the SDK call of an instrumented method.
_adoptable: contextvars.ContextVar[LLMCall | None] = contextvars.ContextVar(
    "synapsekit_anthropic_adoptable_call", default=None
)
_hooked_module: Any = None


if TYPE_CHECKING:
    _SpanProxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 proxies are not subscriptable at run time
    _SpanProxy = wrapt.ObjectProxy


# The SDK's attribute names that the conventions spell otherwise: written under the conventions' name.
_CONVENTION_NAMES = {
    semconv.ANTHROPIC_SDK_CACHE_WRITE_INPUT_TOKENS: semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
}


class _SpanEndedBySynapsekit(_SpanProxy):
    """The SDK's span as the SDK sees it after adoption: synapsekit ends it with the call, and the SDK's
    attributes are written under the conventions' names."""

    def end(self, end_time: int | None = None) -> None:
        """Left to synapsekit, which ends the span once the call is finalised."""

    def set_attribute(self, key: str, value: Any) -> Any:
        return self.__wrapped__.set_attribute(_CONVENTION_NAMES.get(key, key), value)

    def set_attributes(self, attributes: Any) -> Any:
        if any(key in _CONVENTION_NAMES for key in attributes):
            attributes = {_CONVENTION_NAMES.get(key, key): value for key, value in attributes.items()}
        return self.__wrapped__.set_attributes(attributes)


def install_hook() -> bool:
    """Adopt the SDK's call spans from now on; False for an SDK that has none."""
    global _hooked_module
    import importlib

    try:
        module = importlib.import_module(_HOOK_MODULE)
    except ImportError:
        return False
    if not callable(getattr(module, _HOOK_ATTRIBUTE, None)):
        return False
    wrap_method(module, _HOOK_ATTRIBUTE, _adopt)
    _hooked_module = module
    return True


def remove_hook() -> None:
    global _hooked_module
    if _hooked_module is not None:
        unwrap_method(_hooked_module, _HOOK_ATTRIBUTE)
        _hooked_module = None


def sdk_emits_span(client: Any, options: Any) -> bool:
    """Whether the SDK may start its own span for this request of ``client`` (and synapsekit will adopt it).

    The SDK traces only the requests its methods name (``options.span_name``): a bare ``client.post(...)``
    gets synapsekit's span.
    """
    if _hooked_module is None:
        return False
    try:
        return getattr(client, "_tracer", None) is not None and bool(getattr(options, "span_name", None))
    except Exception as exc:
        report_internal_error("anthropic.sdk_tracer", exc)
        return False


def offer(call: LLMCall) -> contextvars.Token[LLMCall | None]:
    """Let the span the SDK starts for the request being sent now become ``call``'s."""
    return _adoptable.set(None if call.wire else call)


def withdraw(token: contextvars.Token[LLMCall | None]) -> None:
    _adoptable.reset(token)


class _SdkSpans:
    """The request pipeline's view of the above (``synapsekit_instrumentation_openai.stainless.SdkSpans``)."""

    emits_span = staticmethod(sdk_emits_span)
    offer = staticmethod(offer)
    withdraw = staticmethod(withdraw)


SDK_SPANS = _SdkSpans()


def _adopt(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    span = wrapped(*args, **kwargs)
    call = _adoptable.get()
    if span is None or call is None:
        return span
    try:
        options = kwargs.get("options", args[2] if len(args) > 2 else None)
        if getattr(options, "span_name", None) != SDK_SPAN_NAME or call.span is not None or call.ended:
            return span
        call.span = span
        if span.is_recording():
            span.set_attributes(_start_attributes(call))
        return _SpanEndedBySynapsekit(span)
    except Exception as exc:
        report_internal_error("anthropic.adopt_sdk_span", exc)
        return span


def _start_attributes(call: LLMCall) -> dict[str, Any]:
    # What synapsekit's own span would start with and the SDK's lacks: outer layers' enrichment (the
    # streamed flag is set when the call ends, as on synapsekit's own spans).
    return {
        key: value for key, value in call.attributes.items() if isinstance(value, (str, bool, int, float))
    }
