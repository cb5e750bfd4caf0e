"""synapsekit.semconv's convention names are the installed ``opentelemetry-semantic-conventions``' names.

synapsekit keeps them as string constants (``import synapsekit`` imports no OpenTelemetry), so nothing but
this test notices when one is misspelt or the conventions rename one.
"""

from __future__ import annotations

import importlib

import pytest

from synapsekit import semconv

# Where the conventions define each family of our constants.
_MODULES = {
    "GEN_AI_": "opentelemetry.semconv._incubating.attributes.gen_ai_attributes",
    "OPENAI_": "opentelemetry.semconv._incubating.attributes.openai_attributes",
    "SERVER_": "opentelemetry.semconv.attributes.server_attributes",
    "ERROR_": "opentelemetry.semconv.attributes.error_attributes",
    "METRIC_": "opentelemetry.semconv._incubating.metrics.gen_ai_metrics",
}
# Ours only: the conventions define no cost attribute, and the anthropic SDK's cache name is not theirs.
# Our metric constants are named after the metric; the conventions' after the instrument's full name.
_METRIC_NAMES = {
    "METRIC_GEN_AI_TOKEN_USAGE": "GEN_AI_CLIENT_TOKEN_USAGE",
    "METRIC_GEN_AI_OPERATION_DURATION": "GEN_AI_CLIENT_OPERATION_DURATION",
    "METRIC_GEN_AI_TIME_TO_FIRST_CHUNK": "GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK",
    "METRIC_GEN_AI_TIME_PER_OUTPUT_CHUNK": "GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK",
}
_EXTENSIONS = {"GEN_AI_USAGE_COST", "ANTHROPIC_SDK_CACHE_WRITE_INPUT_TOKENS"}


def _convention_constants() -> list[tuple[str, str, str]]:
    """(our name, the conventions' module, the conventions' name) for every convention constant of ours."""
    found = []
    for name in dir(semconv):
        if name in _EXTENSIONS or not name.isupper():
            continue
        for prefix, module in _MODULES.items():
            if name.startswith(prefix):
                found.append((name, module, _METRIC_NAMES.get(name, name)))
    return found


def test_every_family_is_checked() -> None:
    names = [name for name, _, _ in _convention_constants()]
    assert len(names) == 36
    assert {
        "GEN_AI_REQUEST_TEMPERATURE",
        "OPENAI_RESPONSE_SYSTEM_FINGERPRINT",
        "SERVER_PORT",
        "ERROR_TYPE",
    } <= set(names)
    assert "METRIC_GEN_AI_TIME_PER_OUTPUT_CHUNK" in names


@pytest.mark.parametrize(("ours", "module", "theirs"), _convention_constants(), ids=lambda value: str(value))
def test_constant_matches_the_installed_conventions(ours: str, module: str, theirs: str) -> None:
    conventions = importlib.import_module(module)
    assert hasattr(conventions, theirs), f"{module} defines no {theirs}"
    assert getattr(semconv, ours) == getattr(conventions, theirs)


def test_the_names_that_replaced_synapsekits_own() -> None:
    # The streamed flag and time to first chunk have convention names now; spans use those.
    assert semconv.GEN_AI_REQUEST_STREAM == "gen_ai.request.stream"
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK == "gen_ai.response.time_to_first_chunk"
