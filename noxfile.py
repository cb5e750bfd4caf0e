"""Sessions: tests, lint, typing, bench, demo, e2e, the client-version matrix, and interop with frameworks.

Run with ``uvx nox -s <session>`` (or ``uv run nox -s <session>``). Sessions that use the workspace's locked
environment run through ``uv run --frozen``; the version-matrix sessions build their own virtualenvs.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typing", "tests"]

PYTHON = "3.11"
# Oldest and newest client versions each instrumentor is tested against (see instrumentation/*/pyproject.toml).
OPENAI_VERSIONS = ["2.0.0", "3.57.0"]
# 1.17.0 is the first release that emits its own OpenTelemetry spans: both span paths are tested.
ANTHROPIC_VERSIONS = ["1.0.0", "1.17.0", "2.14.0"]
# 1.34.116 is the first botocore with Converse; boto3 shares botocore's version numbers.
BOTOCORE_VERSIONS = ["1.34.116", "1.44.8"]
# 2.10.0: the first with closable streams (under mistralai.client, SDK telemetry opt-in); 3.x uses httpx2.
MISTRALAI_VERSIONS = ["2.10.0", "3.7.0"]
OLLAMA_VERSIONS = ["0.4.0", "0.6.3"]
# 5.16.0 is the first with the raw v2 clients the instrumentor patches.
COHERE_VERSIONS = ["5.16.0", "7.3.1"]
GOOGLE_GENAI_VERSIONS = ["1.0.0", "3.6.1"]
# litellm moves fast: its first release of the supported range and the newest (compromised releases are excluded
# in instrumentation/litellm/pyproject.toml). The openai instrumentor comes along: its counting-once tests need it.
LITELLM_VERSIONS = ["1.80.0", "1.110.2"]
# The OpenAI-compatible generated SDKs. groq 0.13.0 and cerebras-cloud-sdk 1.13.1 are the first that build their
# HTTP client under httpx 0.28 (older ones pass the removed ``proxies``); together from 2 (together 1 was not
# generated), whose chat path left the base URL for the request path in 3; fireworks-ai from 1.2 (0.x was a
# different, hand-written SDK).
GROQ_VERSIONS = ["0.13.0", "1.7.0"]
CEREBRAS_VERSIONS = ["1.13.1", "1.91.0"]
TOGETHER_VERSIONS = ["2.0.0", "3.1.1"]
FIREWORKS_VERSIONS = ["1.2.0", "1.2.30"]
TEST_TOOLS = ["pytest", "pytest-asyncio", "pytest-timeout", "pytest-benchmark", "hypothesis"]


def _uv_run(session: nox.Session, *args: str) -> None:
    session.run("uv", "run", "--frozen", *args, external=True)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The whole test suite (the README's test command)."""
    _uv_run(session, "pytest", *session.posargs)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    _uv_run(session, "ruff", "check", ".")
    _uv_run(session, "ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def typing(session: nox.Session) -> None:
    _uv_run(session, "mypy")


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Every bench/ group with its uninstrumented baseline in the same run; JSON result in .benchmarks/."""
    _uv_run(
        session,
        "pytest",
        "bench",
        "--benchmark-enable",
        "--benchmark-only",
        "--benchmark-json=.benchmarks/latest.json",
        "--benchmark-columns=min,median,mean,stddev,rounds",
        "--benchmark-sort=name",
        *session.posargs,
    )


@nox.session(venv_backend="none")
def bench_peers(session: nox.Session) -> None:
    """Overhead against the established OpenAI instrumentations, each in its own venv (.nox/peers/)."""
    _uv_run(session, "python", "bench/peers/run.py", *session.posargs)


@nox.session(venv_backend="none")
def bench_callgrind(session: nox.Session) -> None:
    """Instructions per operation under valgrind's callgrind, every scenario x configuration."""
    _uv_run(session, "python", "bench/callgrind/run.py", *session.posargs)


@nox.session(venv_backend="none")
def demo(session: nox.Session) -> None:
    _uv_run(session, "synapsekit", "demo", *session.posargs)


@nox.session(venv_backend="none")
def e2e(session: nox.Session) -> None:
    """End-to-end export to Arize Phoenix, installed in its own virtualenv."""
    phoenix_venv = str(Path(".nox/phoenix-venv").resolve())
    session.run("uv", "venv", "--allow-existing", "--python", PYTHON, phoenix_venv, external=True)
    session.run(
        "uv", "pip", "install", "--python", f"{phoenix_venv}/bin/python", "arize-phoenix", external=True
    )
    session.env["PHOENIX_PYTHON"] = f"{phoenix_venv}/bin/python"
    _uv_run(session, "pytest", "-m", "e2e", "tests/e2e", *session.posargs)


def _client_versions(session: nox.Session, instrumentor: str, *client: str) -> None:
    """One instrumentor's tests in a fresh venv against one pinned client version."""
    session.install(
        "-e", ".", "-e", f"instrumentation/{instrumentor}", *client, "opentelemetry-sdk", *TEST_TOOLS
    )
    session.run("pytest", f"instrumentation/{instrumentor}/tests", "-p", "no:cacheprovider", *session.posargs)


# The oldest and newest supported version of each client (see instrumentation/*/pyproject.toml).
@nox.session(python=PYTHON)
@nox.parametrize("openai", OPENAI_VERSIONS)
def openai_versions(session: nox.Session, openai: str) -> None:
    _client_versions(session, "openai", f"openai=={openai}")


@nox.session(python=PYTHON)
@nox.parametrize("anthropic", ANTHROPIC_VERSIONS)
def anthropic_versions(session: nox.Session, anthropic: str) -> None:
    # The anthropic instrumentor runs on the openai distribution's shared generated-SDK pipeline.
    _client_versions(session, "anthropic", "-e", "instrumentation/openai", f"anthropic=={anthropic}")


@nox.session(python=PYTHON)
@nox.parametrize("botocore", BOTOCORE_VERSIONS)
def botocore_versions(session: nox.Session, botocore: str) -> None:
    _client_versions(session, "botocore", f"botocore=={botocore}", f"boto3=={botocore}")


@nox.session(python=PYTHON)
@nox.parametrize("mistralai", MISTRALAI_VERSIONS)
def mistralai_versions(session: nox.Session, mistralai: str) -> None:
    _client_versions(session, "mistralai", f"mistralai=={mistralai}")


@nox.session(python=PYTHON)
@nox.parametrize("ollama", OLLAMA_VERSIONS)
def ollama_versions(session: nox.Session, ollama: str) -> None:
    _client_versions(session, "ollama", f"ollama=={ollama}")


@nox.session(python=PYTHON)
@nox.parametrize("cohere", COHERE_VERSIONS)
def cohere_versions(session: nox.Session, cohere: str) -> None:
    _client_versions(session, "cohere", f"cohere=={cohere}")


@nox.session(python=PYTHON)
@nox.parametrize("google_genai", GOOGLE_GENAI_VERSIONS)
def google_genai_versions(session: nox.Session, google_genai: str) -> None:
    _client_versions(session, "google-genai", f"google-genai=={google_genai}")


@nox.session(python=PYTHON)
@nox.parametrize("litellm", LITELLM_VERSIONS)
def litellm_versions(session: nox.Session, litellm: str) -> None:
    # litellm fetches its model cost map from the network at import unless told to use its bundled copy.
    session.env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    _client_versions(session, "litellm", "-e", "instrumentation/openai", f"litellm=={litellm}")


# groq, cerebras-cloud-sdk, together and fireworks-ai run on the openai distribution's shared generated-SDK pipeline
# and its OpenAI-compatible module.
@nox.session(python=PYTHON)
@nox.parametrize("groq", GROQ_VERSIONS)
def groq_versions(session: nox.Session, groq: str) -> None:
    _client_versions(session, "groq", "-e", "instrumentation/openai", f"groq=={groq}")


@nox.session(python=PYTHON)
@nox.parametrize("cerebras", CEREBRAS_VERSIONS)
def cerebras_versions(session: nox.Session, cerebras: str) -> None:
    _client_versions(session, "cerebras", "-e", "instrumentation/openai", f"cerebras-cloud-sdk=={cerebras}")


@nox.session(python=PYTHON)
@nox.parametrize("together", TOGETHER_VERSIONS)
def together_versions(session: nox.Session, together: str) -> None:
    _client_versions(session, "together", "-e", "instrumentation/openai", f"together=={together}")


@nox.session(python=PYTHON)
@nox.parametrize("fireworks", FIREWORKS_VERSIONS)
def fireworks_versions(session: nox.Session, fireworks: str) -> None:
    _client_versions(session, "fireworks", "-e", "instrumentation/openai", f"fireworks-ai=={fireworks}")


# Third-party frameworks and other instrumentations over the instrumented SDKs, pinned so that CI stays
# reproducible. opentelemetry-instrumentation-openai-v2 2.4b0 imports a module opentelemetry-util-genai 1.2
# renamed. openlit requires anthropic < 1 and openai < 3, so it gets a session (and a virtualenv) of its own.
INTEROP_FRAMEWORKS = [
    "openai==3.57.0",
    "anthropic==2.14.0",
    "litellm==1.110.2",
    "langchain-openai==1.8.1",
    "langchain-anthropic==1.7.10",
    "opentelemetry-instrumentation-openai-v2==2.4b0",
    "opentelemetry-util-genai<1.2",
    "opentelemetry-sdk",
    "logfire==5.4.0",
]
INTEROP_OPENLIT = ["openai==2.54.0", "openlit==1.45.0", "opentelemetry-sdk"]
_OPENAI_INTEROP = "instrumentation/openai/tests/interop"
_ANTHROPIC_INTEROP = "instrumentation/anthropic/tests/interop"


@nox.session(python=PYTHON)
def interop(session: nox.Session) -> None:
    """litellm, langchain-openai, langchain-anthropic, OpenTelemetry's openai-v2 and logfire over ours."""
    session.install(
        "-e", ".", "-e", "instrumentation/openai", "-e", "instrumentation/anthropic", *INTEROP_FRAMEWORKS, *TEST_TOOLS
    )  # fmt: skip
    session.env["SYNAPSEKIT_INTEROP_REQUIRE"] = (
        "litellm,langchain_openai,langchain_anthropic,opentelemetry.instrumentation.openai_v2"
    )
    logfire_tests = f"{_OPENAI_INTEROP}/test_interop_logfire.py"
    session.run(
        "pytest", _OPENAI_INTEROP, _ANTHROPIC_INTEROP, f"--ignore={logfire_tests}", "-p", "no:cacheprovider",
        *session.posargs,
    )  # fmt: skip
    # logfire.configure() installs the process's tracer provider: its tests get a process of their own.
    session.env["SYNAPSEKIT_INTEROP_REQUIRE"] = "logfire"
    session.run("pytest", logfire_tests, "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def interop_openlit(session: nox.Session) -> None:
    """openlit over ours, in either order (openlit needs openai < 3 and anthropic < 1)."""
    session.install("-e", ".", "-e", "instrumentation/openai", *INTEROP_OPENLIT, *TEST_TOOLS)
    session.env["SYNAPSEKIT_INTEROP_REQUIRE"] = "openlit"
    session.run(
        "pytest", f"{_OPENAI_INTEROP}/test_interop_openlit.py", "-p", "no:cacheprovider", *session.posargs
    )  # fmt: skip
