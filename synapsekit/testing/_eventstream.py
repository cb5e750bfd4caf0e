"""The AWS event-stream binary framing that Bedrock's streaming operations answer in.

Each message is ``[total length][headers length][prelude CRC32][headers][payload][message CRC32]``, with
big-endian unsigned 32-bit lengths and CRCs. A header is ``[name length: 1 byte][name][type: 1 byte]
[value]``; only the string type (7, a 2-byte length then UTF-8) is needed here.
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Mapping
from typing import Any

from ._sse import Frame

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_STRING_HEADER = 7
# total length + headers length + prelude CRC, and the trailing message CRC.
_PRELUDE_BYTES = 12
_TRAILER_BYTES = 4


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message; CRC32 as in zlib, which botocore verifies on every message."""
    encoded_headers = b"".join(_encode_header(name, value) for name, value in headers.items())
    total = _PRELUDE_BYTES + len(encoded_headers) + len(payload) + _TRAILER_BYTES
    lengths = struct.pack(">II", total, len(encoded_headers))
    prelude = lengths + struct.pack(">I", binascii.crc32(lengths))
    body = prelude + encoded_headers + payload
    return body + struct.pack(">I", binascii.crc32(body))


def _encode_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING_HEADER, len(raw_value))
        + raw_value
    )


def event_frame(event_type: str, payload: Any, *, is_content: bool = False) -> Frame:
    """An ``event`` message: botocore routes it to the stream member named by ``:event-type``."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return Frame(encode_message(headers, json.dumps(payload, separators=(",", ":")).encode()), is_content)
