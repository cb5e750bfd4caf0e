"""Where OTLP data goes: endpoint, protocol, headers and service name, from arguments and the environment.

Pure functions with no OpenTelemetry import, so configuration errors surface when an
:class:`~synapsekit.observability.OTelExporter` is created, before any SDK is loaded. The environment
variables are the OpenTelemetry SDK's own (``OTEL_EXPORTER_OTLP_*``, ``OTEL_SERVICE_NAME``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args
from urllib.parse import unquote, urlsplit

_logger = logging.getLogger(__name__)

OTLPProtocol = Literal["grpc", "http/protobuf"]

DEFAULT_SERVICE_NAME: Final = "synapsekit"
TRACES_PATH: Final = "/v1/traces"
METRICS_PATH: Final = "/v1/metrics"
GRPC_PORT: Final = 4317
HTTP_PORT: Final = 4318

# DNS labels (underscores tolerated, as resolvers do) and dotted IPv4: what a collector address can be.
_HOST_NAME_RE: Final = re.compile(
    r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?"
)


@dataclass(frozen=True)
class Target:
    protocol: OTLPProtocol
    traces_endpoint: str  # gRPC: scheme://host:port; HTTP: the full /v1/traces URL
    metrics_endpoint: str
    plaintext: bool


def _split(endpoint: str) -> tuple[str, str, str, int | None]:
    """(scheme, netloc, path, port) of an endpoint that may be written without a scheme."""
    has_scheme = "://" in endpoint
    try:
        parts = urlsplit(endpoint if has_scheme else f"//{endpoint}")
    except ValueError as error:  # e.g. a bracketed host that is no IPv6 address
        raise ValueError(f"OTelExporter endpoint {endpoint!r} is not a URL: {error}") from error
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"OTelExporter endpoint {endpoint!r} has an invalid port") from error
    if not parts.hostname:
        raise ValueError(f"OTelExporter endpoint {endpoint!r} has no host")
    if not _is_host(parts.hostname):
        raise ValueError(
            f"OTelExporter endpoint {endpoint!r} is not a URL: {parts.hostname!r} is not a host name or "
            "IP address (expected e.g. 'http://localhost:4317')"
        )
    return parts.scheme.lower(), parts.netloc, parts.path, port


def _is_host(hostname: str) -> bool:
    if ":" in hostname:  # urlsplit has already taken the brackets off an IPv6 literal
        try:
            ipaddress.IPv6Address(hostname.partition("%")[0])
        except ValueError:
            return False
        return True
    try:
        ascii_hostname = hostname.encode("idna").decode("ascii")  # an internationalised name, as DNS sees it
    except UnicodeError:
        return False
    return _HOST_NAME_RE.fullmatch(ascii_hostname) is not None


def _protocol_from_environment(environ: Mapping[str, str]) -> OTLPProtocol | None:
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = environ.get(variable, "").strip().lower()
        if not value:
            continue
        if value == "http/json":
            raise ValueError(
                f"{variable}=http/json is not supported by OTelExporter; use http/protobuf or grpc"
            )
        if value not in get_args(OTLPProtocol):
            raise ValueError(f"{variable}={value!r} is not an OTLP protocol; use grpc or http/protobuf")
        return cast(OTLPProtocol, value)
    return None


def resolve_protocol(
    endpoint: str, protocol: str | None = None, environ: Mapping[str, str] = os.environ
) -> OTLPProtocol:
    """The OTLP transport for ``endpoint``: the explicit ``protocol``, else what the endpoint says, else
    ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``, else gRPC."""
    if protocol is not None:
        if protocol not in get_args(OTLPProtocol):
            raise ValueError(f"protocol must be 'grpc' or 'http/protobuf', got {protocol!r}")
        return cast(OTLPProtocol, protocol)
    scheme, _, path, port = _split(endpoint)
    if scheme in ("grpc", "grpcs") or port == GRPC_PORT:
        return "grpc"
    if port == HTTP_PORT or path.rstrip("/").endswith((TRACES_PATH, METRICS_PATH)):
        return "http/protobuf"
    return _protocol_from_environment(environ) or "grpc"


def _env_flag(environ: Mapping[str, str], *variables: str) -> bool:
    return any(environ.get(variable, "").strip().lower() == "true" for variable in variables)


def resolve_target(
    endpoint: str,
    *,
    insecure: bool,
    protocol: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Target:
    """Where traces and metrics go, and whether over plaintext.

    ``https://`` (and ``grpcs://``) always use TLS. ``http://`` is plaintext, which must be allowed by
    ``insecure=True`` (or ``OTEL_EXPORTER_OTLP_INSECURE=true``): a plaintext URL with ``insecure=False`` is
    refused here rather than failing in the background at every export. An endpoint without a scheme, or
    with ``grpc://``, uses TLS unless ``insecure`` allows plaintext.
    """
    resolved_protocol = resolve_protocol(endpoint, protocol, environ)
    scheme, netloc, path, _ = _split(endpoint)
    if scheme not in ("", "http", "https", "grpc", "grpcs"):
        raise ValueError(f"OTelExporter endpoint {endpoint!r} has an unsupported scheme {scheme!r}")
    allow_plaintext = insecure or _env_flag(
        environ, "OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"
    )
    if scheme in ("https", "grpcs"):
        plaintext = False
    elif scheme == "http":
        if not allow_plaintext:
            raise ValueError(
                f"OTelExporter endpoint {endpoint!r} is plaintext http:// but insecure=False; "
                "pass insecure=True to allow plaintext OTLP, or use an https:// endpoint"
            )
        plaintext = True
    else:
        plaintext = allow_plaintext
    base = f"{'http' if plaintext else 'https'}://{netloc}"

    if resolved_protocol == "grpc":
        # gRPC has no per-signal paths: both signals go to the same host and port.
        return Target("grpc", base, base, plaintext)
    path = path.rstrip("/")
    for signal_path in (TRACES_PATH, METRICS_PATH):
        if path.endswith(signal_path):
            path = path[: -len(signal_path)]
            break
    return Target("http/protobuf", base + path + TRACES_PATH, base + path + METRICS_PATH, plaintext)


def parse_headers(value: str) -> dict[str, str]:
    """Headers in the ``OTEL_EXPORTER_OTLP_HEADERS`` format: ``key1=value1,key2=value2``, URL-encoded."""
    headers: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, separator, raw_value = item.partition("=")
        if not separator or not key.strip():
            _logger.warning("ignoring malformed OTLP header entry %r", item.strip())
            continue
        headers[unquote(key.strip()).lower()] = unquote(raw_value.strip())
    return headers


def resolve_headers(
    headers: Mapping[str, str] | None,
    signal: Literal["traces", "metrics"],
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """Explicit headers win; else the signal's ``OTEL_EXPORTER_OTLP_*_HEADERS``, else the generic one.

    Names are lower-cased: gRPC refuses upper-case metadata keys and HTTP does not care.
    """
    if headers is not None:
        return {str(key).lower(): str(value) for key, value in headers.items()}
    for variable in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"):
        if variable in environ:
            return parse_headers(environ[variable])
    return {}


def resolve_service_name(service_name: str, environ: Mapping[str, str] = os.environ) -> str:
    """``OTEL_SERVICE_NAME`` replaces the default service name, never one the caller chose."""
    if service_name == DEFAULT_SERVICE_NAME:
        return environ.get("OTEL_SERVICE_NAME", "").strip() or service_name
    return service_name
