"""``PromptParts``: a prompt's length without joining it, and the same token estimate as the joined text."""

from __future__ import annotations

import pytest

from synapsekit._budget.tokens import count_input_tokens
from synapsekit._core.call import start_call
from synapsekit._core.estimate import estimate_tokens
from synapsekit.plugin import PromptParts


@pytest.mark.parametrize(
    "parts", [[], [""], ["", ""], ["a"], ["abc", "de"], ["x" * 1001, "", "y" * 7, "z"], ["é" * 5, "日本"]]
)
def test_length_truth_and_text_are_the_joined_texts(parts: list[str]) -> None:
    joined = "\n".join(parts)
    prompt = PromptParts(list(parts))
    assert (len(prompt), bool(prompt), prompt.text, str(prompt)) == (
        len(joined),
        bool(joined),
        joined,
        joined,
    )
    assert prompt == joined


@pytest.mark.parametrize("parts", [["one two", "three"], ["x" * 4097], ["a", "b", "c", "d", "e"]])
def test_the_estimate_is_the_joined_texts(parts: list[str]) -> None:
    joined = "\n".join(parts)
    # A model tiktoken does not know: the documented four-characters-per-token estimate.
    assert count_input_tokens(PromptParts(parts), "no-such-model") == estimate_tokens(joined)
    assert count_input_tokens(joined, "no-such-model") == estimate_tokens(joined)


def test_a_call_reads_its_prompt_parts_once_and_joins_only_for_the_text() -> None:
    built: list[int] = []

    def read() -> PromptParts:
        built.append(1)
        return PromptParts(["system", "user"])

    call = start_call("openai", "chat", "no-such-model", prompt=read)
    source = call.prompt_source
    assert isinstance(source, PromptParts) and source._text is None  # counted, not joined
    assert call.prompt_text == "system\nuser"
    assert call.prompt_source is source
    assert built == [1]
    call.finish()
