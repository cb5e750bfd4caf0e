"""CostTracker and CostRecord over the offline model (priced at the documented demo price)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import synapsekit
from synapsekit import OfflineLLM
from synapsekit.observability import CostRecord, CostTracker

# synapsekit-offline demo price: $0.15 input, $0.60 output per 1M tokens.
IN_PRICE, OUT_PRICE = 0.15e-6, 0.60e-6


async def test_spec_example_ten_short_prompts() -> None:
    tracker = CostTracker(llm=OfflineLLM())
    for _ in range(10):
        await tracker.generate("Short prompt")
    # Each call: 2 input tokens, 12 output tokens.
    assert tracker.cost_so_far == pytest.approx(10 * (2 * IN_PRICE + 12 * OUT_PRICE), abs=1e-12)
    assert f"Total cost: ${tracker.cost_so_far:.4f}" == "Total cost: $0.0001"
    assert len(tracker.records) == 10
    record = tracker.records[-1]
    assert isinstance(record, CostRecord)
    assert (record.model, record.provider, record.input_tokens, record.output_tokens) == (
        "synapsekit-offline",
        "synapsekit",
        2,
        12,
    )
    assert record.input_cost_usd == pytest.approx(3e-7, abs=1e-15)
    assert record.output_cost_usd == pytest.approx(7.2e-6, abs=1e-15)
    assert record.total_cost_usd == pytest.approx(7.5e-6, abs=1e-15)
    assert record.prompt_preview == "Short prompt"
    assert record.timestamp.tzinfo == timezone.utc
    assert abs((datetime.now(timezone.utc) - record.timestamp).total_seconds()) < 60


async def test_prompt_preview_is_the_first_100_characters_and_reset_clears() -> None:
    tracker = CostTracker(OfflineLLM())
    prompt = "word " * 60
    await tracker.generate(prompt)
    assert tracker.records[0].prompt_preview == prompt[:100]
    tracker.reset()
    assert (tracker.cost_so_far, tracker.records) == (0.0, [])


async def test_streams_are_priced_when_they_end() -> None:
    tracker = CostTracker(OfflineLLM())
    chunks = [c async for c in tracker.stream("a b c d", max_tokens=20)]
    assert len(chunks) == 20
    assert tracker.records[0].total_cost_usd == pytest.approx(4 * IN_PRICE + 20 * OUT_PRICE, abs=1e-15)


async def test_pipeline_making_several_calls_is_fully_priced() -> None:
    class Pipeline(OfflineLLM):
        async def generate(self, prompt: str, **kwargs: object) -> str:
            await OfflineLLM().generate("retrieve " + prompt)
            return await OfflineLLM().generate("answer " + prompt)

    tracker = CostTracker(Pipeline())
    await tracker.generate("x y")
    assert [r.input_tokens for r in tracker.records] == [3, 3]
    assert tracker.cost_so_far == pytest.approx(2 * (3 * IN_PRICE + 12 * OUT_PRICE), abs=1e-15)


async def test_unknown_model_is_none_not_zero() -> None:
    from synapsekit import LLMConfig

    llm = OfflineLLM(LLMConfig(model="homegrown-model-x"))
    tracker = CostTracker(llm)
    with pytest.warns(synapsekit.UnknownModelPriceWarning):
        await tracker.generate("hello")
    record = tracker.records[0]
    assert (record.total_cost_usd, record.input_cost_usd, record.output_cost_usd) == (None, None, None)
    assert tracker.cost_so_far == 0.0
    assert tracker.unknown_cost_calls == 1


async def test_cost_tracker_is_a_base_llm_and_composes() -> None:
    inner = CostTracker(OfflineLLM())
    outer = CostTracker(inner)
    assert isinstance(outer, synapsekit.BaseLLM)
    assert outer.model == "synapsekit-offline"
    await outer.generate("one two three")
    assert len(inner.records) == len(outer.records) == 1
    assert inner.cost_so_far == outer.cost_so_far


def test_currency_is_for_display_only() -> None:
    tracker = CostTracker(OfflineLLM(), currency="EUR", usd_exchange_rate=0.5)
    assert tracker.currency == "EUR"
    assert tracker.format_cost(2.0) == "1.000000 EUR"
    assert CostTracker(OfflineLLM()).format_cost(0.25) == "$0.250000"
    assert CostTracker(OfflineLLM(), currency="usd", usd_exchange_rate=1).format_cost(0.5) == "$0.500000"
    with pytest.raises(ValueError, match="ISO 4217"):
        CostTracker(OfflineLLM(), currency="dollars")


async def test_ambient_track_sees_costs_without_a_facade() -> None:
    async with synapsekit.track() as tally:
        await OfflineLLM().generate("a b")
    assert tally.cost_usd == pytest.approx(2 * IN_PRICE + 12 * OUT_PRICE, abs=1e-15)
    assert tally.unknown_cost_calls == 0
