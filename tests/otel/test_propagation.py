"""Header parsing and formatting for W3C Trace Context, W3C Baggage and B3 (synapsekit._otel.propagation)."""

from __future__ import annotations

import email
import http.client
import io
from typing import Any

import httpx2
import pytest
import requests.structures
from hypothesis import given, strategies as st

from synapsekit._otel.propagation import (
    collect_trace_headers,
    extract_trace_context,
    format_baggage,
    parse_b3_multi,
    parse_b3_single,
    parse_baggage,
    parse_traceparent,
    parse_tracestate,
    set_headers,
    trace_headers,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"
B3_SINGLE = f"{TRACE_ID}-{SPAN_ID}-1"


def _w3c_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "sampled": True,
        "format": "w3c",
        "tracestate": None,
        "baggage": {},
    }
    context.update(overrides)
    return context


def _b3_context(**overrides: Any) -> dict[str, Any]:
    return _w3c_context(format="b3", **overrides)


# --- traceparent ---------------------------------------------------------------------------------------


def test_traceparent_valid_sampled_and_not_sampled() -> None:
    assert parse_traceparent(TRACEPARENT) == (TRACE_ID, SPAN_ID, True)
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-00") == (TRACE_ID, SPAN_ID, False)
    # Only bit 0 is the sampled flag; other bits are carried but not interpreted.
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-02") == (TRACE_ID, SPAN_ID, False)
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-03") == (TRACE_ID, SPAN_ID, True)


def test_traceparent_surrounding_whitespace_is_tolerated() -> None:
    assert parse_traceparent(f" \t{TRACEPARENT} ") == (TRACE_ID, SPAN_ID, True)


def test_traceparent_future_version_reads_the_first_four_fields() -> None:
    assert parse_traceparent(f"01-{TRACE_ID}-{SPAN_ID}-01") == (TRACE_ID, SPAN_ID, True)
    assert parse_traceparent(f"cc-{TRACE_ID}-{SPAN_ID}-01-what-the-future-holds") == (TRACE_ID, SPAN_ID, True)


MALFORMED_TRACEPARENTS = [
    "",
    "00",
    TRACEPARENT.upper(),
    f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID.upper()}-01",
    f"00-{TRACE_ID}-{SPAN_ID}-0A",
    f"00-{'0' * 32}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{'0' * 16}-01",
    f"ff-{TRACE_ID}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 has exactly four fields
    f"00-{TRACE_ID}-{SPAN_ID}-1",
    f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",
    f"00-{TRACE_ID}0-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID[:-1]}-01",
    f"00-{TRACE_ID}-{SPAN_ID}0-01",
    f"00_{TRACE_ID}_{SPAN_ID}_01",
    f"00-{TRACE_ID[:-1]}g-{SPAN_ID}-01",
    f"0-{TRACE_ID}-{SPAN_ID}-01",
    f"000-{TRACE_ID}-{SPAN_ID}-01",
    f"01-{TRACE_ID}-{SPAN_ID}-01extra",  # a future version still separates new fields with a dash
    f"cc-{TRACE_ID}-{SPAN_ID}-01-" + "x" * 500,  # over 512 characters
    f"00-{TRACE_ID}-{SPAN_ID}-01\r\nX-Injected: 1",
    f"00-{TRACE_ID}-{SPAN_ID}-01\n",
    f"00-{TRACE_ID}-{SPAN_ID}-\uff101",  # a full-width digit zero
]


@pytest.mark.parametrize("value", MALFORMED_TRACEPARENTS)
def test_malformed_traceparent_is_rejected(value: str) -> None:
    assert parse_traceparent(value) is None
    assert extract_trace_context({"traceparent": value}) is None


def test_repeated_traceparent_headers_are_rejected() -> None:
    carrier = [(b"traceparent", TRACEPARENT.encode()), (b"traceparent", TRACEPARENT.encode())]
    assert extract_trace_context(carrier) is None


# --- tracestate ----------------------------------------------------------------------------------------


def test_tracestate_is_validated_and_normalised() -> None:
    assert (
        parse_tracestate(["rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"])
        == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    )
    assert parse_tracestate(["rojo=1", "congo=2"]) == "rojo=1,congo=2"
    assert parse_tracestate(["tenant@vendor=x,,  ,a=b"]) == "tenant@vendor=x,a=b"


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ",
        "Upper=1",
        "1abc=1",  # a simple key starts with a letter
        "a=",
        "a=b,a=c",
        "a",
        "a=b\tc",  # a tab is not a value character
        "a=b=c",
        "a=\x7f",
        ",".join(f"k{i}=v" for i in range(33)),
        "a=" + "x" * 300,
        ",".join(f"key{i:03d}=" + "v" * 40 for i in range(12)),  # over 512 characters
    ],
)
def test_invalid_tracestate_is_dropped_but_the_trace_continues(value: str) -> None:
    assert parse_tracestate([value]) is None
    assert extract_trace_context({"traceparent": TRACEPARENT, "tracestate": value}) == _w3c_context()


def test_tracestate_with_32_members_is_kept() -> None:
    value = ",".join(f"k{i}=v" for i in range(32))
    assert parse_tracestate([value]) == value


# --- baggage -------------------------------------------------------------------------------------------


def test_baggage_is_decoded_and_properties_dropped() -> None:
    assert parse_baggage(["userId=alice, serverNode = DF%2028 ;prop=1;flag", "isProduction=false"]) == {
        "userId": "alice",
        "serverNode": "DF 28",
        "isProduction": "false",
    }
    assert parse_baggage(["city=M%C3%BCnchen"]) == {"city": "München"}


def test_malformed_baggage_members_are_skipped() -> None:
    assert parse_baggage(['good=1,no-equals,bad key=2,q="x",bad%ff=%ff,utf=%C3,ok=2']) == {
        "good": "1",
        "ok": "2",
    }


def test_oversize_baggage_is_ignored_whole() -> None:
    assert parse_baggage([",".join(f"k{i}=v" for i in range(65))]) == {}
    assert parse_baggage(["k=" + "v" * 8200]) == {}


def test_format_baggage_percent_encodes_values() -> None:
    assert (
        format_baggage({"city": "München", "a b": "dropped", "n": "1,2;3"}) == "city=M%C3%BCnchen,n=1%2C2%3B3"
    )
    assert format_baggage({"bad key": "x"}) is None


# --- B3 ------------------------------------------------------------------------------------------------


def test_b3_single_variants() -> None:
    assert parse_b3_single(B3_SINGLE) == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_single(f"{TRACE_ID}-{SPAN_ID}-0") == (TRACE_ID, SPAN_ID, False)
    assert parse_b3_single(f"{TRACE_ID}-{SPAN_ID}-d") == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_single(f"{TRACE_ID}-{SPAN_ID}") == (TRACE_ID, SPAN_ID, True)  # deferred
    assert parse_b3_single(f"{TRACE_ID}-{SPAN_ID}-1-05e3ac9a4f6e3b90") == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_single(f"a3ce929d0e0e4736-{SPAN_ID}-1") == (
        "0000000000000000a3ce929d0e0e4736",
        SPAN_ID,
        True,
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0",
        "1",
        "d",
        f"{TRACE_ID}",
        f"{TRACE_ID}-{SPAN_ID}-",
        f"{TRACE_ID}-{SPAN_ID}-2",
        f"{TRACE_ID}-{SPAN_ID}-true",
        f"{TRACE_ID}-{SPAN_ID}-1-",
        f"{TRACE_ID}-{SPAN_ID}-1-05e3ac9a4f6e3b9",
        f"{TRACE_ID}-{SPAN_ID}-1-05e3ac9a4f6e3b90-x",
        f"{TRACE_ID.upper()}-{SPAN_ID}-1",
        f"{TRACE_ID}-{SPAN_ID.upper()}-1",
        f"{TRACE_ID[:-2]}-{SPAN_ID}-1",  # neither 16 nor 32 digits
        f"{'0' * 32}-{SPAN_ID}-1",
        f"{'0' * 16}-{SPAN_ID}-1",
        f"{TRACE_ID}-{'0' * 16}-1",
        f"{TRACE_ID}-{SPAN_ID}-1-{'0' * 16}",
        f"{TRACE_ID}:{SPAN_ID}:1",
        f"{TRACE_ID}-{SPAN_ID}-1-05e3ac9a4f6e3b90" + " " * 600,
    ],
)
def test_malformed_b3_single_is_rejected(value: str) -> None:
    assert parse_b3_single(value) is None
    assert extract_trace_context({"b3": value}, "b3") is None


def test_b3_multi_variants() -> None:
    ids = {"x-b3-traceid": [TRACE_ID], "x-b3-spanid": [SPAN_ID]}
    assert parse_b3_multi(ids) == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_multi({**ids, "x-b3-sampled": ["0"]}) == (TRACE_ID, SPAN_ID, False)
    assert parse_b3_multi({**ids, "x-b3-sampled": ["1"]}) == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_multi({**ids, "x-b3-sampled": ["false"]}) == (TRACE_ID, SPAN_ID, False)
    assert parse_b3_multi({**ids, "x-b3-sampled": ["true"]}) == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_multi({**ids, "x-b3-sampled": ["0"], "x-b3-flags": ["1"]}) == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_multi({**ids, "x-b3-parentspanid": ["05e3ac9a4f6e3b90"]}) == (TRACE_ID, SPAN_ID, True)
    assert parse_b3_multi({"x-b3-traceid": ["a3ce929d0e0e4736"], "x-b3-spanid": [SPAN_ID]}) == (
        "0000000000000000a3ce929d0e0e4736",
        SPAN_ID,
        True,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-b3-traceid": [TRACE_ID]},
        {"x-b3-spanid": [SPAN_ID]},
        {"x-b3-sampled": ["1"]},
        {"x-b3-traceid": [TRACE_ID], "x-b3-spanid": [SPAN_ID], "x-b3-sampled": ["yes"]},
        {"x-b3-traceid": [TRACE_ID], "x-b3-spanid": [SPAN_ID], "x-b3-flags": ["2"]},
        {"x-b3-traceid": [TRACE_ID], "x-b3-spanid": [SPAN_ID], "x-b3-parentspanid": ["xyz"]},
        {"x-b3-traceid": [TRACE_ID, TRACE_ID], "x-b3-spanid": [SPAN_ID]},
        {"x-b3-traceid": [TRACE_ID.upper()], "x-b3-spanid": [SPAN_ID]},
        {"x-b3-traceid": ["0" * 32], "x-b3-spanid": [SPAN_ID]},
        {"x-b3-traceid": [TRACE_ID], "x-b3-spanid": ["0" * 16]},
        {"x-b3-traceid": [TRACE_ID + "00"], "x-b3-spanid": [SPAN_ID]},
        {"x-b3-traceid": [TRACE_ID], "x-b3-spanid": [SPAN_ID + "0"]},
    ],
)
def test_malformed_b3_multi_is_rejected(headers: dict[str, list[str]]) -> None:
    assert parse_b3_multi(headers) is None


def test_valid_b3_single_wins_over_multi_and_invalid_single_falls_back_to_multi() -> None:
    other_trace = "11111111111111111111111111111111"
    multi = {"X-B3-TraceId": other_trace, "X-B3-SpanId": SPAN_ID, "X-B3-Sampled": "0"}
    assert extract_trace_context({"b3": B3_SINGLE, **multi}, "b3") == _b3_context()
    assert extract_trace_context({"b3": "garbage", **multi}, "b3") == _b3_context(
        trace_id=other_trace, sampled=False
    )


# --- extraction from every kind of carrier ---------------------------------------------------------------

W3C_HEADERS = {"traceparent": TRACEPARENT, "tracestate": "rojo=1", "baggage": "user=alice"}
W3C_EXPECTED = _w3c_context(tracestate="rojo=1", baggage={"user": "alice"})


def _http_message(headers: dict[str, str]) -> http.client.HTTPMessage:
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    return http.client.parse_headers(io.BytesIO(raw.encode("latin-1")))


class StarletteStyleHeaders:
    """The shape of ``starlette.datastructures.Headers``: a read-only mapping built from raw ASGI pairs."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw

    def keys(self) -> list[str]:
        return [name.decode("latin-1") for name, _ in self.raw]

    def items(self) -> list[tuple[str, str]]:
        return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in self.raw]

    def get(self, key: str, default: str | None = None) -> str | None:
        for name, value in self.items():
            if name == key.lower():
                return value
        return default


class GetOnlyHeaders:
    """A carrier that only offers a case-insensitive ``get``."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = {name.lower(): value for name, value in headers.items()}

    def get(self, key: str) -> str | None:
        return self._headers.get(key.lower())


@pytest.mark.parametrize(
    "carrier",
    [
        pytest.param(W3C_HEADERS, id="dict"),
        pytest.param({name.upper(): value for name, value in W3C_HEADERS.items()}, id="dict-upper-case"),
        pytest.param(
            {"Traceparent": TRACEPARENT, "TraceState": "rojo=1", "Baggage": "user=alice"}, id="dict-mixed"
        ),
        pytest.param(
            {f"HTTP_{name.upper()}": value for name, value in W3C_HEADERS.items()}, id="wsgi-environ"
        ),
        pytest.param([(n.encode(), v.encode()) for n, v in W3C_HEADERS.items()], id="asgi-raw-list"),
        pytest.param(
            {"type": "http", "headers": [(n.encode(), v.encode()) for n, v in W3C_HEADERS.items()]},
            id="asgi-scope",
        ),
        pytest.param(
            StarletteStyleHeaders([(n.encode(), v.encode()) for n, v in W3C_HEADERS.items()]),
            id="starlette-style",
        ),
        pytest.param(
            _http_message({"TraceParent": TRACEPARENT, "TRACESTATE": "rojo=1", "baggage": "user=alice"}),
            id="http-message",
        ),
        pytest.param(
            email.message_from_string(
                "Traceparent: " + TRACEPARENT + "\ntracestate: rojo=1\nBaggage: user=alice\n\n"
            ),
            id="email-message",
        ),
        pytest.param(
            httpx2.Headers({"TraceParent": TRACEPARENT, "tracestate": "rojo=1", "baggage": "user=alice"}),
            id="httpx2",
        ),
        pytest.param(
            requests.structures.CaseInsensitiveDict(
                {"TraceParent": TRACEPARENT, "tracestate": "rojo=1", "baggage": "user=alice"}
            ),
            id="requests",
        ),
        pytest.param(GetOnlyHeaders(W3C_HEADERS), id="get-only"),
        pytest.param(
            {"traceparent": [TRACEPARENT], "tracestate": ["rojo=1"], "baggage": [b"user=alice"]},
            id="dict-of-lists",
        ),
    ],
)
def test_w3c_is_extracted_from_every_carrier_kind(carrier: object) -> None:
    assert extract_trace_context(carrier) == W3C_EXPECTED
    assert extract_trace_context(carrier, "b3") == W3C_EXPECTED


B3_MULTI = {
    "X-B3-TraceId": TRACE_ID,
    "X-B3-SpanId": SPAN_ID,
    "X-B3-Sampled": "0",
    "X-B3-ParentSpanId": "05e3ac9a4f6e3b90",
}


@pytest.mark.parametrize(
    "carrier",
    [
        pytest.param(B3_MULTI, id="dict"),
        pytest.param({name.lower(): value for name, value in B3_MULTI.items()}, id="dict-lower-case"),
        pytest.param(
            {"HTTP_" + name.upper().replace("-", "_"): value for name, value in B3_MULTI.items()}, id="wsgi"
        ),
        pytest.param([(n.lower().encode(), v.encode()) for n, v in B3_MULTI.items()], id="asgi-raw-list"),
        pytest.param(_http_message(B3_MULTI), id="http-message"),
        pytest.param(httpx2.Headers(B3_MULTI), id="httpx2"),
        pytest.param(requests.structures.CaseInsensitiveDict(B3_MULTI), id="requests"),
        pytest.param(GetOnlyHeaders(B3_MULTI), id="get-only"),
    ],
)
def test_b3_multi_is_extracted_from_every_carrier_kind(carrier: object) -> None:
    assert extract_trace_context(carrier, "b3") == _b3_context(sampled=False)
    assert extract_trace_context(carrier, "w3c") == _b3_context(sampled=False)


@pytest.mark.parametrize(
    "carrier",
    [
        {"B3": B3_SINGLE},
        {"HTTP_B3": B3_SINGLE},
        [(b"b3", B3_SINGLE.encode())],
        httpx2.Headers({"B3": B3_SINGLE}),
        _http_message({"B3": B3_SINGLE}),
    ],
)
def test_b3_single_is_extracted_from_carriers(carrier: object) -> None:
    assert extract_trace_context(carrier, "b3") == _b3_context()


def test_configured_format_is_preferred_when_both_are_present() -> None:
    b3_trace = "22222222222222222222222222222222"
    carrier = {"traceparent": TRACEPARENT, "b3": f"{b3_trace}-{SPAN_ID}-0"}
    assert extract_trace_context(carrier, "w3c") == _w3c_context()
    assert extract_trace_context(carrier, "b3") == _b3_context(trace_id=b3_trace, sampled=False)


def test_invalid_preferred_format_falls_back_to_the_other() -> None:
    carrier = {"traceparent": "garbage", "b3": B3_SINGLE}
    assert extract_trace_context(carrier, "w3c") == _b3_context()


@pytest.mark.parametrize(
    "carrier",
    [
        None,
        {},
        [],
        {"content-type": "text/plain"},
        {"traceparent": None},
        {"traceparent": 42},
        {"traceparent": b"\xff\xfe"},
        [(b"\xff", b"x"), ("not", "bytes"), (1, 2), ("only-one",)],
        {b"\xfftraceparent": TRACEPARENT},
        {"traceparent": "x" * 100_000},
    ],
)
def test_carriers_without_a_valid_context_give_none(carrier: object) -> None:
    assert extract_trace_context(carrier) is None


def test_unsupported_carrier_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot read headers from int"):
        extract_trace_context(42)


def test_collect_ignores_unrelated_headers() -> None:
    assert collect_trace_headers({"Authorization": "Bearer secret", "traceparent": TRACEPARENT}) == {
        "traceparent": [TRACEPARENT]
    }


# --- formatting ----------------------------------------------------------------------------------------


def test_trace_headers_in_each_format() -> None:
    assert trace_headers("w3c", TRACE_ID, SPAN_ID, True) == {"traceparent": TRACEPARENT}
    assert trace_headers("w3c", TRACE_ID, SPAN_ID, False, tracestate="a=b", baggage={"u": "a b"}) == {
        "traceparent": f"00-{TRACE_ID}-{SPAN_ID}-00",
        "tracestate": "a=b",
        "baggage": "u=a%20b",
    }
    assert trace_headers("b3", TRACE_ID, SPAN_ID, True) == {"b3": B3_SINGLE}
    assert trace_headers("b3", TRACE_ID, SPAN_ID, False, b3_single_header=False) == {
        "X-B3-TraceId": TRACE_ID,
        "X-B3-SpanId": SPAN_ID,
        "X-B3-Sampled": "0",
    }


def test_set_headers_replaces_fields_whatever_their_case() -> None:
    target = {"TraceParent": "old", "Accept": "*/*"}
    set_headers(target, {"traceparent": TRACEPARENT})
    assert target == {"Accept": "*/*", "traceparent": TRACEPARENT}


@pytest.mark.parametrize(("propagation_format", "single"), [("w3c", True), ("b3", True), ("b3", False)])
@pytest.mark.parametrize("sampled", [True, False])
def test_format_then_extract_round_trip(propagation_format: Any, single: bool, sampled: bool) -> None:
    headers = trace_headers(propagation_format, TRACE_ID, SPAN_ID, sampled, b3_single_header=single)
    context = extract_trace_context(headers, propagation_format)
    assert context is not None
    assert (context["trace_id"], context["span_id"], context["sampled"], context["format"]) == (
        TRACE_ID,
        SPAN_ID,
        sampled,
        propagation_format,
    )


# --- property-based --------------------------------------------------------------------------------------

HEADER_NAMES = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "X-B3-TraceId",
    "X-B3-SpanId",
    "X-B3-Sampled",
    "X-B3-Flags",
    "X-B3-ParentSpanId",
]
lower_hex = "0123456789abcdef"
trace_ids = st.text(lower_hex, min_size=32, max_size=32).filter(lambda value: value.strip("0") != "")
span_ids = st.text(lower_hex, min_size=16, max_size=16).filter(lambda value: value.strip("0") != "")
b3_trace_ids = st.one_of(
    trace_ids, st.text(lower_hex, min_size=16, max_size=16).filter(lambda v: v.strip("0") != "")
)


@given(st.dictionaries(st.sampled_from(HEADER_NAMES), st.text(max_size=600)), st.sampled_from(["w3c", "b3"]))
def test_arbitrary_header_text_never_raises(headers: dict[str, str], preferred: Any) -> None:
    context = extract_trace_context(headers, preferred)
    if context is not None:
        assert len(context["trace_id"]) == 32
        assert set(context["trace_id"]) <= set(lower_hex)
        assert len(context["span_id"]) == 16
        assert set(context["span_id"]) <= set(lower_hex)


@given(st.lists(st.tuples(st.binary(max_size=40), st.binary(max_size=200)), max_size=8))
def test_arbitrary_raw_asgi_headers_never_raise(raw: list[tuple[bytes, bytes]]) -> None:
    extract_trace_context(raw)


@given(st.sampled_from(HEADER_NAMES), st.text(max_size=600))
def test_arbitrary_text_per_header_never_raises(name: str, value: str) -> None:
    extract_trace_context({name: value}, "w3c")
    extract_trace_context([(name.encode(), value.encode("utf-8"))], "b3")
    extract_trace_context({"traceparent": TRACEPARENT, name: value})


@given(
    trace_ids,
    span_ids,
    st.text(lower_hex, min_size=2, max_size=2),
    st.text(lower_hex, min_size=2, max_size=2).filter(lambda version: version != "ff"),
)
def test_any_valid_traceparent_is_accepted_with_exact_ids(
    trace_id: str, span_id: str, flags: str, version: str
) -> None:
    context = extract_trace_context({"TraceParent": f"{version}-{trace_id}-{span_id}-{flags}"})
    assert context == _w3c_context(trace_id=trace_id, span_id=span_id, sampled=bool(int(flags, 16) & 1))


@given(
    b3_trace_ids,
    span_ids,
    st.sampled_from(["", "-0", "-1", "-d"]),
    st.one_of(st.just(""), span_ids.map(lambda s: "-" + s)),
)
def test_any_valid_b3_single_is_accepted_with_exact_ids(
    trace_id: str, span_id: str, sampling: str, parent: str
) -> None:
    if not sampling:
        parent = ""  # the parent span id comes after a sampling state
    context = extract_trace_context({"b3": f"{trace_id}-{span_id}{sampling}{parent}"}, "w3c")
    assert context == _b3_context(trace_id=trace_id.rjust(32, "0"), span_id=span_id, sampled=sampling != "-0")


@given(
    b3_trace_ids,
    span_ids,
    st.sampled_from([None, "0", "1", "true", "false"]),
    st.sampled_from([None, "0", "1"]),
)
def test_any_valid_b3_multi_is_accepted_with_exact_ids(
    trace_id: str, span_id: str, sampled: str | None, flags: str | None
) -> None:
    headers = {"x-b3-traceid": trace_id, "X-B3-SPANID": span_id}
    if sampled is not None:
        headers["X-B3-Sampled"] = sampled
    if flags is not None:
        headers["X-B3-Flags"] = flags
    expected_sampled = flags == "1" or sampled in (None, "1", "true")
    assert extract_trace_context(headers, "b3") == _b3_context(
        trace_id=trace_id.rjust(32, "0"), span_id=span_id, sampled=expected_sampled
    )


B3_SAMPLED_VALUES = ("0", "1", "true", "false")
B3_FLAGS_VALUES = ("0", "1")
b3_header_values = st.one_of(
    st.sampled_from([*B3_SAMPLED_VALUES, "d", "yes", "no", "2", "01", "True", " ", ""]), st.text(max_size=6)
)


@given(
    b3_trace_ids,
    span_ids,
    st.one_of(st.none(), b3_header_values),
    st.one_of(st.none(), b3_header_values),
    st.one_of(st.none(), span_ids, st.text(max_size=17)),
)
def test_b3_multi_is_accepted_only_when_every_header_is_valid(
    trace_id: str, span_id: str, sampled: str | None, flags: str | None, parent: str | None
) -> None:
    headers = {"X-B3-TraceId": trace_id, "X-B3-SpanId": span_id}
    for name, value in (("X-B3-Sampled", sampled), ("X-B3-Flags", flags), ("X-B3-ParentSpanId", parent)):
        if value is not None:
            headers[name] = value

    def stripped(value: str | None) -> str | None:
        return None if value is None else value.strip(" \t")

    sampled, flags, parent = stripped(sampled), stripped(flags), stripped(parent)
    valid = (
        (sampled is None or sampled in B3_SAMPLED_VALUES)
        and (flags is None or flags in B3_FLAGS_VALUES)
        and (
            parent is None
            or (len(parent) == 16 and set(parent) <= set(lower_hex) and parent.strip("0") != "")
        )
    )
    expected = (
        _b3_context(
            trace_id=trace_id.rjust(32, "0"),
            span_id=span_id,
            sampled=flags == "1" or sampled in (None, "1", "true"),
        )
        if valid
        else None
    )
    assert extract_trace_context(headers, "b3") == expected
    assert extract_trace_context(headers, "w3c") == expected


@pytest.mark.parametrize("sampled", ["yes", "d", "no", "True", "2"])
def test_debug_flag_does_not_excuse_an_invalid_sampling_state(sampled: str) -> None:
    headers = {"X-B3-TraceId": TRACE_ID, "X-B3-SpanId": SPAN_ID, "X-B3-Flags": "1", "X-B3-Sampled": sampled}
    assert extract_trace_context(headers, "b3") is None
