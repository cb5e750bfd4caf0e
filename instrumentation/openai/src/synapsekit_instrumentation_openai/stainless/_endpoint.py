"""Where a client's requests go and who answers there."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """Where a client sends its requests, and who answers there (the provider name prices the call)."""

    provider: str
    server_address: str | None
    server_port: int | None
