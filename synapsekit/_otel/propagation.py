"""Trace-context headers as plain text: read them from any header carrier, validate them, write them.

Pure functions, no OpenTelemetry import, so that the strict parsing (the part that meets untrusted input)
is testable on its own. Two formats are understood:

- W3C Trace Context (``traceparent`` + ``tracestate``) with W3C Baggage (``baggage``);
- Zipkin B3, both the single header (``b3``) and the multi-header form (``X-B3-*``).

Every parser answers ``None`` (or drops the optional part) on anything it cannot validate completely;
none of them raises on header content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Literal, TypedDict
from urllib.parse import quote, unquote

PropagationFormat = Literal["w3c", "b3"]
PROPAGATION_FORMATS: tuple[PropagationFormat, ...] = ("w3c", "b3")


class TraceContext(TypedDict):
    """The trace context of a remote parent, as returned by ``DistributedTracer.extract_context``."""

    trace_id: str  # 32 lower-case hex digits, never all zeros
    span_id: str  # 16 lower-case hex digits, never all zeros: the remote parent span
    sampled: bool
    format: PropagationFormat  # the format the context was read from
    tracestate: str | None  # validated and re-serialised W3C tracestate, or None
    baggage: dict[str, str]  # validated, percent-decoded W3C baggage (empty when absent)


TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"
B3_SINGLE = "b3"
B3_TRACE_ID = "X-B3-TraceId"
B3_SPAN_ID = "X-B3-SpanId"
B3_PARENT_SPAN_ID = "X-B3-ParentSpanId"
B3_SAMPLED = "X-B3-Sampled"
B3_FLAGS = "X-B3-Flags"

_B3_MULTI_HEADERS = (B3_TRACE_ID, B3_SPAN_ID, B3_PARENT_SPAN_ID, B3_SAMPLED, B3_FLAGS)
_KNOWN_HEADERS = frozenset(
    name.lower() for name in (TRACEPARENT, TRACESTATE, BAGGAGE, B3_SINGLE, *_B3_MULTI_HEADERS)
)

_TRACEPARENT_MAX_LENGTH = 512
_TRACESTATE_MAX_LENGTH = 512
_TRACESTATE_MAX_MEMBERS = 32
_BAGGAGE_MAX_LENGTH = 8192
_BAGGAGE_MAX_MEMBERS = 64
_B3_SINGLE_MAX_LENGTH = 68  # 32 + 1 + 16 + 1 + 1 + 1 + 16
# A header value longer than this cannot be any of ours; skipping it early bounds the work per request.
_ANY_HEADER_MAX_LENGTH = _BAGGAGE_MAX_LENGTH

_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
_OWS = " \t"

_TRACE_ID_RE = re.compile(r"[0-9a-f]{32}")
_SPAN_ID_RE = re.compile(r"[0-9a-f]{16}")
_B3_TRACE_ID_RE = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
_TRACEPARENT_V00_RE = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# Future versions may append fields after a dash; only the first four are read (W3C, "Versioning").
_TRACEPARENT_FUTURE_RE = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?")
_TRACESTATE_KEY_RE = re.compile(
    r"[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}"
)
_TRACESTATE_VALUE_RE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
# RFC 9110 token characters, the grammar of a baggage key.
_BAGGAGE_KEY_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# W3C baggage-octet: printable US-ASCII except space, '"', ',', ';' and '\'.
_BAGGAGE_VALUE_RE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


# --- reading header carriers -------------------------------------------------------------------------


def collect_trace_headers(carrier: object) -> dict[str, list[str]]:
    """Return the trace-context headers found in ``carrier``, keyed by lower-case header name.

    Accepts plain mappings, WSGI environ dicts (``HTTP_TRACEPARENT``), an ASGI scope or its raw header list
    (``[(b"traceparent", b"...")]``), ``http.client.HTTPMessage``/``email.message.Message``, and header
    objects of httpx, httpx2, requests or Starlette (anything with ``multi_items``, ``items`` or ``get``).
    Values that are not text (or ASCII bytes) are skipped. Raises ``TypeError`` for an unsupported carrier.
    """
    found: dict[str, list[str]] = {}
    for raw_name, raw_value in _iter_pairs(carrier):
        name = _header_name(raw_name)
        if name is None or name not in _KNOWN_HEADERS:
            continue
        for value in _header_values(raw_value):
            found.setdefault(name, []).append(value)
    return found


def _iter_pairs(carrier: object) -> Iterable[tuple[object, object]]:
    if isinstance(carrier, Mapping) and carrier.get("type") in ("http", "websocket"):
        raw_headers = carrier.get("headers")
        if isinstance(raw_headers, (list, tuple)):
            return _iter_pairs(raw_headers)
    if isinstance(carrier, (list, tuple)):
        return [(item[0], item[1]) for item in carrier if isinstance(item, (list, tuple)) and len(item) == 2]
    multi_items = getattr(carrier, "multi_items", None)  # httpx/httpx2: keeps repeated headers apart
    if callable(multi_items):
        return list(multi_items())
    items = getattr(carrier, "items", None)  # dicts, email.message.Message, requests, Starlette
    if callable(items):
        return list(items())
    getter = getattr(carrier, "get", None)
    if callable(getter):
        pairs: list[tuple[object, object]] = []
        for name in (TRACEPARENT, TRACESTATE, BAGGAGE, B3_SINGLE, *_B3_MULTI_HEADERS):
            value = getter(name)
            if value is not None:
                pairs.append((name, value))
        return pairs
    raise TypeError(
        f"cannot read headers from {type(carrier).__name__!s}: expected a mapping, a list of (name, value) "
        "pairs, or an object with .items() or .get()"
    )


def _header_name(raw: object) -> str | None:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(raw, str):
        return None
    if raw.startswith("HTTP_"):  # WSGI environ: HTTP_X_B3_TRACEID -> x-b3-traceid
        return raw[5:].replace("_", "-").lower()
    return raw.lower()


def _header_values(raw: object) -> list[str]:
    candidates = raw if isinstance(raw, (list, tuple)) else (raw,)
    values: list[str] = []
    for candidate in candidates:
        if isinstance(candidate, bytes):
            try:
                candidate = candidate.decode("ascii")
            except UnicodeDecodeError:
                continue
        if isinstance(candidate, str) and len(candidate) <= _ANY_HEADER_MAX_LENGTH:
            values.append(candidate)
    return values


# --- W3C trace context ---------------------------------------------------------------------------------


def parse_traceparent(value: str) -> tuple[str, str, bool] | None:
    """``(trace_id, span_id, sampled)`` from a ``traceparent`` value, or ``None`` if it is not valid."""
    if len(value) > _TRACEPARENT_MAX_LENGTH:
        return None
    value = value.strip(_OWS)
    if value.startswith("00"):
        match = _TRACEPARENT_V00_RE.fullmatch(value)
        if match is None:
            return None
        trace_id, span_id, flags = match.groups()
    else:
        match = _TRACEPARENT_FUTURE_RE.fullmatch(value)
        if match is None or match.group(1) == "ff":
            return None
        _version, trace_id, span_id, flags = match.groups()
    if trace_id == _ZERO_TRACE_ID or span_id == _ZERO_SPAN_ID:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 0x01)


def parse_tracestate(values: list[str]) -> str | None:
    """Validate the ``tracestate`` header(s) and return them re-serialised, or ``None`` if invalid.

    Repeated header fields are combined with ``,`` (RFC 9110). Empty list members are allowed and dropped;
    more than 32 members, more than 512 characters, a duplicate key or any malformed member drops the
    whole tracestate (W3C lets a vendor discard a tracestate it cannot parse; the trace continues).
    """
    combined = ",".join(values)
    if not combined.strip(_OWS) or len(combined) > _TRACESTATE_MAX_LENGTH:
        return None
    members: list[str] = []
    keys: set[str] = set()
    for raw_member in combined.split(","):
        member = raw_member.strip(_OWS)
        if not member:
            continue
        key, sep, member_value = member.partition("=")
        if (
            not sep
            or not _TRACESTATE_KEY_RE.fullmatch(key)
            or not _TRACESTATE_VALUE_RE.fullmatch(member_value)
        ):
            return None
        if key in keys:
            return None
        keys.add(key)
        members.append(f"{key}={member_value}")
    if not members or len(members) > _TRACESTATE_MAX_MEMBERS:
        return None
    return ",".join(members)


def format_traceparent(trace_id: str, span_id: str, sampled: bool) -> str:
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


# --- W3C baggage ---------------------------------------------------------------------------------------


def parse_baggage(values: list[str]) -> dict[str, str]:
    """Decode W3C ``baggage`` header(s) into ``{key: value}``; malformed members are skipped.

    Member properties (``;prop``) are dropped. Over 8192 characters or 64 members, the baggage is ignored
    as a whole rather than cut at an arbitrary member.
    """
    combined = ",".join(values)
    if len(combined) > _BAGGAGE_MAX_LENGTH:
        return {}
    raw_members = [member for member in combined.split(",") if member.strip(_OWS)]
    if len(raw_members) > _BAGGAGE_MAX_MEMBERS:
        return {}
    baggage: dict[str, str] = {}
    for raw_member in raw_members:
        key_value = raw_member.split(";", 1)[0]
        key, sep, raw_value = key_value.partition("=")
        key = key.strip(_OWS)
        raw_value = raw_value.strip(_OWS)
        if not sep or not _BAGGAGE_KEY_RE.fullmatch(key) or not _BAGGAGE_VALUE_RE.fullmatch(raw_value):
            continue
        try:
            baggage[key] = unquote(raw_value, errors="strict")
        except UnicodeDecodeError:
            continue
    return baggage


def format_baggage(baggage: Mapping[str, str]) -> str | None:
    """Serialise baggage for the ``baggage`` header; entries with keys that are not tokens are left out."""
    members = [
        f"{key}={quote(value, safe='')}"
        for key, value in baggage.items()
        if isinstance(key, str) and isinstance(value, str) and _BAGGAGE_KEY_RE.fullmatch(key)
    ]
    return ",".join(members) if members else None


# --- B3 ------------------------------------------------------------------------------------------------


def _b3_trace_id(value: str) -> str | None:
    if not _B3_TRACE_ID_RE.fullmatch(value):
        return None
    trace_id = value.rjust(32, "0")  # 64-bit B3 trace ids are left-padded to the W3C size
    return None if trace_id == _ZERO_TRACE_ID else trace_id


def _span_id(value: str) -> str | None:
    if not _SPAN_ID_RE.fullmatch(value) or value == _ZERO_SPAN_ID:
        return None
    return value


def parse_b3_single(value: str) -> tuple[str, str, bool] | None:
    """``(trace_id, span_id, sampled)`` from a ``b3`` single header, or ``None``.

    A header with only a sampling state (``b3: 0``) carries no ids and so no parent: ``None``. A missing
    sampling state means "deferred" and is reported as sampled, leaving the decision to this service.
    """
    if len(value) > _B3_SINGLE_MAX_LENGTH:
        return None
    fields = value.strip(_OWS).split("-")
    if len(fields) < 2 or len(fields) > 4:
        return None
    trace_id = _b3_trace_id(fields[0])
    span_id = _span_id(fields[1])
    if trace_id is None or span_id is None:
        return None
    sampled = True
    if len(fields) >= 3:
        if fields[2] not in ("0", "1", "d"):
            return None
        sampled = fields[2] != "0"
    if len(fields) == 4 and _span_id(fields[3]) is None:
        return None
    return trace_id, span_id, sampled


def parse_b3_multi(headers: Mapping[str, list[str]]) -> tuple[str, str, bool] | None:
    """``(trace_id, span_id, sampled)`` from the ``X-B3-*`` headers (keys lower-case), or ``None``."""
    values: dict[str, str] = {}
    for name in _B3_MULTI_HEADERS:
        found = headers.get(name.lower())
        if found is None:
            continue
        if len(found) != 1:  # a repeated id header is ambiguous
            return None
        values[name] = found[0].strip(_OWS)
    if B3_TRACE_ID not in values or B3_SPAN_ID not in values:
        return None
    trace_id = _b3_trace_id(values[B3_TRACE_ID])
    span_id = _span_id(values[B3_SPAN_ID])
    if trace_id is None or span_id is None:
        return None
    if B3_PARENT_SPAN_ID in values and _span_id(values[B3_PARENT_SPAN_ID]) is None:
        return None
    # Every header present is validated before any decides: debug must not excuse a bad sampling state.
    flags = values.get(B3_FLAGS)
    if flags is not None and flags not in ("0", "1"):
        return None
    sampled_state = values.get(B3_SAMPLED)
    # "true"/"false" is what tracers sent before the B3 specification; it asks to accept them.
    if sampled_state is not None and sampled_state not in ("0", "1", "true", "false"):
        return None
    if flags == "1":  # debug implies an accept decision
        return trace_id, span_id, True
    return trace_id, span_id, sampled_state in (None, "1", "true")


def format_b3_single(trace_id: str, span_id: str, sampled: bool) -> str:
    return f"{trace_id}-{span_id}-{'1' if sampled else '0'}"


def format_b3_multi(trace_id: str, span_id: str, sampled: bool) -> dict[str, str]:
    return {B3_TRACE_ID: trace_id, B3_SPAN_ID: span_id, B3_SAMPLED: "1" if sampled else "0"}


# --- the whole extraction ------------------------------------------------------------------------------


def _extract_w3c(headers: Mapping[str, list[str]]) -> TraceContext | None:
    traceparents = headers.get(TRACEPARENT)
    if not traceparents or len(traceparents) != 1:  # several traceparent fields: restart the trace
        return None
    parsed = parse_traceparent(traceparents[0])
    if parsed is None:
        return None
    trace_id, span_id, sampled = parsed
    tracestates = headers.get(TRACESTATE)
    return TraceContext(
        trace_id=trace_id,
        span_id=span_id,
        sampled=sampled,
        format="w3c",
        tracestate=parse_tracestate(tracestates) if tracestates else None,
        baggage=parse_baggage(headers.get(BAGGAGE, [])),
    )


def _extract_b3(headers: Mapping[str, list[str]]) -> TraceContext | None:
    parsed = None
    singles = headers.get(B3_SINGLE)
    if singles and len(singles) == 1:
        parsed = parse_b3_single(singles[0])
    if parsed is None:  # the single header wins when valid, as the B3 specification asks
        parsed = parse_b3_multi(headers)
    if parsed is None:
        return None
    trace_id, span_id, sampled = parsed
    return TraceContext(
        trace_id=trace_id, span_id=span_id, sampled=sampled, format="b3", tracestate=None, baggage={}
    )


def extract_trace_context(carrier: object, preferred: PropagationFormat = "w3c") -> TraceContext | None:
    """Read a remote parent from ``carrier`` in either format, trying ``preferred`` first.

    ``None`` when the carrier is ``None`` or holds no valid context. Raises ``TypeError`` only for a
    carrier type that cannot hold headers at all.
    """
    if carrier is None:
        return None
    headers = collect_trace_headers(carrier)
    if not headers:
        return None
    order = (_extract_w3c, _extract_b3) if preferred == "w3c" else (_extract_b3, _extract_w3c)
    for extract in order:
        context = extract(headers)
        if context is not None:
            return context
    return None


def trace_headers(
    propagation_format: PropagationFormat,
    trace_id: str,
    span_id: str,
    sampled: bool,
    *,
    tracestate: str | None = None,
    baggage: Mapping[str, str] | None = None,
    b3_single_header: bool = True,
) -> dict[str, str]:
    """The headers that carry ``(trace_id, span_id, sampled)`` in ``propagation_format``."""
    if propagation_format == "b3":
        if b3_single_header:
            return {B3_SINGLE: format_b3_single(trace_id, span_id, sampled)}
        return format_b3_multi(trace_id, span_id, sampled)
    headers = {TRACEPARENT: format_traceparent(trace_id, span_id, sampled)}
    if tracestate:
        headers[TRACESTATE] = tracestate
    encoded_baggage = format_baggage(baggage) if baggage else None
    if encoded_baggage:
        headers[BAGGAGE] = encoded_baggage
    return headers


def set_headers(target: MutableMapping[str, str], headers: Mapping[str, str]) -> None:
    """Set ``headers`` on ``target``, replacing any existing field of the same name in any letter case."""
    wanted = {name.lower() for name in headers}
    for existing in [key for key in target if isinstance(key, str) and key.lower() in wanted]:
        del target[existing]
    for name, value in headers.items():
        target[name] = value
