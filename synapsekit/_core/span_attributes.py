"""Setting an LLM span's response attributes: straight into an OpenTelemetry SDK span when that is exact.

``Span.set_attributes`` validates every value through Python helpers (a type dispatch and a locked insert per
attribute): about 7,500 instructions per attribute, against ~110,000 for starting and ending the span
itself, and a call's span gets a dozen attributes when it ends. The values we set are already what that
validation produces (``str``/``bool``/``int``/``float``, tuples of ``str``), so for the SDK's own span class
they are written into its attribute store in one locked update — but only when the result is the same as
the public path's: the span still records, nothing would be truncated (no value length limit) or evicted
(the store stays within its limit) and no key is set twice (the public path would move it last).
Everything else, and any SDK whose span is shaped differently, takes ``span.set_attributes``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

SDK_TRACE_MODULE = "opentelemetry.sdk.trace"
ATTRIBUTES_MODULE = "opentelemetry.attributes"

# span type -> whether its attributes may be written directly (decided once per type).
_direct_types: dict[type, bool] = {}
# Values the SDK would store unchanged (a tuple qualifies when all its items are str).
_PLAIN_VALUE_TYPES = frozenset((str, bool, int, float))
# For all(map(is_..., map(type, values))): a check of many values in C, with no Python step per value.
is_plain_scalar_type = _PLAIN_VALUE_TYPES.__contains__
is_str_type = frozenset((str,)).__contains__


def _supports_direct_writes(span_type: type, span: Any) -> bool:
    sdk_trace = sys.modules.get(SDK_TRACE_MODULE)
    attributes_module = sys.modules.get(ATTRIBUTES_MODULE)
    if sdk_trace is None or attributes_module is None:
        return False
    if span_type is not getattr(sdk_trace, "_Span", None):
        return False  # a subclass may override set_attributes: honour it
    bounded_type = getattr(attributes_module, "BoundedAttributes", None)
    try:
        bounded = span._attributes
        # The pieces the direct write relies on, read once to check that this SDK has them.
        _ = (span._lock, span._end_time, bounded._dict, bounded._lock, bounded._immutable)
        _ = (bounded.maxlen, bounded.max_value_len)
    except AttributeError:
        return False
    return type(bounded) is bounded_type and type(bounded._dict) is dict


def _plain(attributes: Mapping[str, Any]) -> bool:
    values = attributes.values()
    if all(map(is_plain_scalar_type, map(type, values))):
        return True
    for value in values:
        if type(value) in _PLAIN_VALUE_TYPES:
            continue
        if type(value) is not tuple or not all(map(is_str_type, map(type, value))):
            return False
    return True


def set_span_attributes(span: Any, attributes: Mapping[str, Any], plain: bool | None = None) -> None:
    """``span.set_attributes(attributes)``, written directly when that stores exactly the same.

    ``plain``: the caller has checked the values itself (True: all of them plain, see :func:`_plain`;
    False: perhaps not); None has them checked here.
    """
    span_type = type(span)
    direct = _direct_types.get(span_type)
    if direct is None:
        direct = _direct_types[span_type] = _supports_direct_writes(span_type, span)
    if direct and (_plain(attributes) if plain is None else plain):
        bounded = span._attributes
        if bounded.max_value_len is None:
            maxlen = bounded.maxlen
            with span._lock:
                store = bounded._dict
                if (
                    span._end_time is None
                    and not bounded._immutable
                    and (maxlen is None or len(store) + len(attributes) <= maxlen)
                    and store.keys().isdisjoint(attributes)
                ):
                    with bounded._lock:
                        store.update(attributes)
                    return
    span.set_attributes(attributes)


def set_new_span_attributes(span: Any, attributes: Mapping[str, Any]) -> None:
    """:func:`set_span_attributes` for a span ``start_span`` has just returned, which no other thread can
    reach yet (the tracer's processors did nothing with it: see ``spans._check_start``): the same checks and
    the same write, without taking the span's locks."""
    span_type = type(span)
    direct = _direct_types.get(span_type)
    if direct is None:
        direct = _direct_types[span_type] = _supports_direct_writes(span_type, span)
    if direct and _plain(attributes):
        bounded = span._attributes
        maxlen = bounded.maxlen
        store = bounded._dict
        if (
            bounded.max_value_len is None
            and span._end_time is None
            and not bounded._immutable
            and (maxlen is None or len(store) + len(attributes) <= maxlen)
            and store.keys().isdisjoint(attributes)
        ):
            store.update(attributes)
            return
    span.set_attributes(attributes)
