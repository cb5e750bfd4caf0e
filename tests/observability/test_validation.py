"""Bad configuration of the facades and LLM classes fails where it is written, naming the parameter."""

from __future__ import annotations

import re
from typing import Any

import pytest

from synapsekit import AnthropicLLM, LLMConfig, OfflineLLM, OpenAILLM
from synapsekit.observability import (
    BudgetGuard,
    BudgetLimit,
    CostTracker,
    TokenTracer,
    TracingMiddleware,
)

LLM_MESSAGE = "llm must be a BaseLLM or an object with an async generate() method, got {}"


def _guard(llm: Any) -> BudgetGuard:
    return BudgetGuard(llm, BudgetLimit(max_cost_usd=1.0))


@pytest.mark.parametrize("facade", [TokenTracer, CostTracker, _guard])
@pytest.mark.parametrize(
    ("llm", "shown"),
    [("gpt-4o-mini", "str 'gpt-4o-mini'"), (None, "None"), (3, "int 3")],
)
def test_facades_reject_what_is_not_an_llm(facade: Any, llm: object, shown: str) -> None:
    with pytest.raises(TypeError) as raised:
        facade(llm)
    assert str(raised.value) == LLM_MESSAGE.format(shown)


class DuckLLM:
    """Not a BaseLLM, but it generates: facades and the middleware take it as it is."""

    model = "duck"

    async def generate(self, prompt: str, **kwargs: Any) -> str:
        return prompt.upper()


@pytest.mark.parametrize("facade", [TokenTracer, CostTracker, _guard, TracingMiddleware])
async def test_a_duck_typed_llm_is_still_accepted(facade: Any) -> None:
    assert await facade(DuckLLM()).generate("quack") == "QUACK"


@pytest.mark.parametrize(
    ("component", "shown"),
    [("gpt-4o-mini", "str 'gpt-4o-mini'"), (None, "None"), (3, "int 3"), (object(), "object")],
)
def test_tracing_middleware_rejects_what_it_cannot_trace(component: object, shown: str) -> None:
    with pytest.raises(TypeError) as raised:
        TracingMiddleware(component)
    message = str(raised.value)
    if shown == "object":
        assert re.fullmatch(
            r"component must be a BaseLLM, a RAGPipeline or an object with public async methods,"
            r" got object <object object at 0x[0-9a-f]+>",
            message,
        ), message
    else:
        assert message == (
            f"component must be a BaseLLM, a RAGPipeline or an object with public async methods, got {shown}"
        )


def test_tracing_middleware_takes_any_component_with_async_methods() -> None:
    class Indexer:
        async def reindex(self) -> int:
            return 0

    assert TracingMiddleware(Indexer()).component.__class__ is Indexer


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_input_length": "5"}, TypeError, "max_input_length must be an int, got str '5'"),
        ({"max_output_length": 2.5}, TypeError, "max_output_length must be an int, got float 2.5"),
        ({"max_input_length": True}, TypeError, "max_input_length must be an int, got bool True"),
        ({"max_output_length": -1}, ValueError, "max_output_length must be >= 0, got -1"),
        ({"record_inputs": "no"}, TypeError, "record_inputs must be a bool, got str 'no'"),
        ({"record_outputs": 0}, TypeError, "record_outputs must be a bool, got int 0"),
        ({"tracer_name": 5}, TypeError, "tracer_name must be a str, got int 5"),
        ({"tracer_name": ""}, ValueError, "tracer_name must not be empty"),
    ],
)
def test_tracing_middleware_parameters(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        TracingMiddleware(OfflineLLM(), **kwargs)
    assert str(raised.value) == message


@pytest.mark.parametrize("cls", [OpenAILLM, AnthropicLLM, OfflineLLM])
def test_llm_classes_want_an_llm_config_not_a_model_name(cls: Any) -> None:
    with pytest.raises(TypeError) as raised:
        cls("gpt-4o-mini")
    assert str(raised.value) == (
        "config must be an LLMConfig, got str 'gpt-4o-mini':"
        f" write {cls.__name__}(LLMConfig(model='gpt-4o-mini'))"
    )
    with pytest.raises(TypeError) as raised:
        cls({"model": "gpt-4o-mini"})
    assert str(raised.value) == "config must be an LLMConfig, got dict {'model': 'gpt-4o-mini'}"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model": None}, TypeError, "model must be a str such as 'gpt-4o-mini', got None"),
        ({"model": 123}, TypeError, "model must be a str such as 'gpt-4o-mini', got int 123"),
        ({"model": "  "}, ValueError, "model must not be empty"),
        ({"api_key": 123}, TypeError, "api_key must be a str or None, got int 123"),
        ({"base_url": b"http://x"}, TypeError, "base_url must be a str or None, got bytes b'http://x'"),
        ({"temperature": "0.2"}, TypeError, "temperature must be a number or None, got str '0.2'"),
        ({"temperature": -0.5}, ValueError, "temperature must be a finite number >= 0, got -0.5"),
        ({"temperature": float("nan")}, ValueError, "temperature must be a finite number >= 0, got nan"),
        ({"max_tokens": 0}, ValueError, "max_tokens must be > 0, got 0"),
        ({"max_tokens": 1.5}, TypeError, "max_tokens must be an int or None, got float 1.5"),
        ({"timeout": "30"}, TypeError, "timeout must be a number of seconds or None, got str '30'"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number > 0, got 0"),
        ({"max_retries": -1}, ValueError, "max_retries must be >= 0, got -1"),
        ({"max_retries": True}, TypeError, "max_retries must be an int or None, got bool True"),
        ({"extra": [("top_p", 1)]}, TypeError, "extra must be a dict, got list [('top_p', 1)]"),
    ],
)
def test_llm_config_fields(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        LLMConfig(**{"model": "gpt-4o-mini", **kwargs})
    assert str(raised.value) == message


def test_llm_config_keeps_valid_values() -> None:
    config = LLMConfig(model="gpt-4o-mini", temperature=0, max_tokens=64, timeout=2.5, max_retries=0)
    assert (config.temperature, config.max_tokens, config.timeout, config.max_retries) == (0, 64, 2.5, 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"currency": "XYZ"},
            ValueError,
            "currency='XYZ' needs usd_exchange_rate= (how many XYZ one USD buys):"
            " synapsekit prices in USD and converts only for display",
        ),
        (
            {"currency": "EUR"},
            ValueError,
            "currency='EUR' needs usd_exchange_rate= (how many EUR one USD buys):"
            " synapsekit prices in USD and converts only for display",
        ),
        (
            {"currency": "dollars"},
            ValueError,
            "currency must be an ISO 4217 code such as 'USD', got 'dollars'",
        ),
        ({"currency": None}, TypeError, "currency must be a str such as 'USD', got None"),
        (
            {"currency": "EUR", "usd_exchange_rate": "0.9"},
            TypeError,
            "usd_exchange_rate must be a number, got str '0.9'",
        ),
        (
            {"currency": "EUR", "usd_exchange_rate": 0},
            ValueError,
            "usd_exchange_rate must be a finite number > 0, got 0",
        ),
        (
            {"currency": "USD", "usd_exchange_rate": 0.9},
            ValueError,
            "usd_exchange_rate must be 1 (or None) for currency='USD', got 0.9",
        ),
    ],
)
def test_cost_tracker_currency(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        CostTracker(OfflineLLM(), **kwargs)
    assert str(raised.value) == message
