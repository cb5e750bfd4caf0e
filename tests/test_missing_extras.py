"""A missing optional dependency names the extra that brings it.

Each case runs in a fresh interpreter where an import hook makes the listed modules (and their submodules)
unimportable, as on an install without that extra: the rest of the environment stays as it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Runs before the case's code: hides every module named in argv[1] (comma-separated) and its submodules.
HIDE_MODULES = textwrap.dedent(
    """
    import sys

    HIDDEN = tuple(sys.argv[1].split(","))

    class HideModules:
        def find_spec(self, name, path=None, target=None):
            if any(name == hidden or name.startswith(hidden + ".") for hidden in HIDDEN):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, HideModules())
    """
)


def _run_without(hidden: list[str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDE_MODULES + textwrap.dedent(code), ",".join(hidden)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("hidden", "message"),
    [
        (["openai"], 'synapsekit demo needs openai: pip install "synapsekit[openai]"'),
        (
            ["openai", "synapsekit_instrumentation_openai"],
            "synapsekit demo needs openai, synapsekit-instrumentation-openai:"
            ' pip install "synapsekit[openai]"',
        ),
        # A minimal install: only the API of OpenTelemetry, no SDK, no prometheus-client, no openai.
        (
            ["opentelemetry.sdk", "prometheus_client", "openai", "synapsekit_instrumentation_openai"],
            "synapsekit demo needs openai, synapsekit-instrumentation-openai, opentelemetry-sdk,"
            ' prometheus-client: pip install "synapsekit[openai,otel,observe]"',
        ),
        (["opentelemetry.sdk"], 'synapsekit demo needs opentelemetry-sdk: pip install "synapsekit[otel]"'),
    ],
)
def test_demo_says_which_extras_to_install(hidden: list[str], message: str) -> None:
    result = _run_without(hidden, "from synapsekit.cli import main\nsys.exit(main(['demo']))\n")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", message + "\n")


def test_openai_llm_generate_without_openai() -> None:
    result = _run_without(
        ["openai"],
        """
        import asyncio
        from synapsekit import LLMConfig, OpenAILLM

        asyncio.run(OpenAILLM(LLMConfig(model="gpt-4o-mini", api_key="sk-test")).generate("hi"))
        """,
    )
    assert result.returncode == 1
    assert _last_line(result.stderr) == (
        'ImportError: OpenAILLM needs the openai package: pip install "synapsekit[openai]"'
    )


def test_anthropic_llm_generate_without_anthropic() -> None:
    result = _run_without(
        ["anthropic"],
        """
        import asyncio
        from synapsekit import AnthropicLLM, LLMConfig

        asyncio.run(AnthropicLLM(LLMConfig(model="claude-haiku-4-5", api_key="sk-test")).generate("hi"))
        """,
    )
    assert result.returncode == 1
    assert _last_line(result.stderr) == (
        'ImportError: AnthropicLLM needs the anthropic package: pip install "synapsekit[anthropic]"'
    )


@pytest.mark.parametrize("hidden", ["grpc", "opentelemetry.proto"])
def test_otlp_receiver_without_grpc(hidden: str) -> None:
    result = _run_without([hidden], "from synapsekit.testing import OTLPReceiver\n")
    assert result.returncode == 1
    assert _last_line(result.stderr) == (
        'ImportError: OTLPReceiver needs grpcio and opentelemetry-proto: pip install "synapsekit[otel]"'
    )


def test_span_buffer_without_the_opentelemetry_sdk() -> None:
    result = _run_without(
        ["opentelemetry.sdk"], "from synapsekit.observability import span_buffer\nspan_buffer()\n"
    )
    assert result.returncode == 1
    assert _last_line(result.stderr) == (
        'ImportError: span_buffer() needs the OpenTelemetry SDK: pip install "synapsekit[otel]"'
    )


def test_a_redis_ledger_without_redis() -> None:
    result = _run_without(
        ["redis"], "import synapsekit\nsynapsekit.budget(max_cost_usd=1, ledger='redis://127.0.0.1:1/0')\n"
    )
    assert result.returncode == 1
    assert _last_line(result.stderr) == (
        'ImportError: a redis:// budget ledger needs the redis package: pip install "synapsekit[redis]"'
    )
