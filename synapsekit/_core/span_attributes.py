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
from itertools import chain, compress, repeat
from operator import is_
from typing import Any

SDK_TRACE_MODULE = "opentelemetry.sdk.trace"
ATTRIBUTES_MODULE = "opentelemetry.attributes"

# span type -> whether its attributes may be written directly (decided once per type).
_direct_types: dict[type, bool] = {}
# Values the SDK would store unchanged (a tuple qualifies when all its items are str).
_PLAIN_VALUE_TYPES = frozenset((str, bool, int, float))
_PLAIN_OR_TUPLE_TYPES = _PLAIN_VALUE_TYPES | {tuple}
_STR_TYPE = frozenset((str,))


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
    # The values' types gathered in C ({*map(...)}), not looked at one by one in Python: a span's dozen
    # attributes are checked on every traced call. Only tuples, if any, have their items looked at.
    value_types = {*map(type, attributes.values())}
    if value_types <= _PLAIN_VALUE_TYPES:
        return True
    if not value_types <= _PLAIN_OR_TUPLE_TYPES:
        return False
    # The tuples' items' types, also gathered in C: the values whose type is tuple, chained.
    values = attributes.values()
    tuples = compress(values, map(is_, map(type, values), repeat(tuple)))
    return {*map(type, chain.from_iterable(tuples))} <= _STR_TYPE


def set_span_attributes(span: Any, attributes: Mapping[str, Any]) -> None:
    """``span.set_attributes(attributes)``, written directly when that stores exactly the same."""
    span_type = type(span)
    direct = _direct_types.get(span_type)
    if direct is None:
        direct = _direct_types[span_type] = _supports_direct_writes(span_type, span)
    if direct and _plain(attributes):
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
