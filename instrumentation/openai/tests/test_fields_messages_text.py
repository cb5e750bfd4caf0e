"""``messages_text``: the prompt text a budget counts, for every shape a chat request's messages take."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from synapsekit_instrumentation_openai._fields import messages_text


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "be brief\nhi"),
        # Content parts: only the text parts count; an image part adds nothing.
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"text": "b"}],
                }
            ],
            "a\nb",
        ),
        # A tool-call message without content, and an empty content string.
        ([{"role": "assistant", "content": None}, {"role": "user", "content": ""}], ""),
        # SDK objects (attribute access) rather than dicts, in a list and in a tuple.
        ([SimpleNamespace(role="user", content="obj")], "obj"),
        ((SimpleNamespace(role="user", content="one"), {"role": "user", "content": "two"}), "one\ntwo"),
        # Generators are read once, like any iterable.
        ((m for m in [{"role": "user", "content": "gen"}]), "gen"),
        # Not a list of messages at all.
        ("a string", ""),
        ({"role": "user", "content": "a dict"}, ""),
        (None, ""),
        (42, ""),
    ],
)
def test_messages_text(messages: Any, expected: str) -> None:
    assert messages_text(messages) == expected


def test_one_text_message_is_its_text_itself() -> None:
    # Nothing to join or to measure: the budget reads the string's length.
    content = "one two three"
    assert messages_text([{"role": "user", "content": content}]) is content
    assert messages_text([SimpleNamespace(role="user", content=content)]) is content
    # Not text: read as parts, as any other list.
    assert messages_text([{"role": "user", "content": [{"type": "text", "text": "a"}]}]) == "a"


def test_a_chat_request_hands_one_text_message_over_as_its_text() -> None:
    """The chat operation's prompt: the text of a lone text message itself (nothing to call back), else
    messages_text's answer, read only when called; either way the same text."""
    from synapsekit_instrumentation_openai._chat import CHAT

    content = "one two three"
    _, _, prompt = CHAT.describe({"model": "m", "messages": [{"role": "user", "content": content}]})
    assert prompt is content
    for messages in (
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        [{"role": "user", "content": [{"type": "text", "text": "a"}]}],
        [SimpleNamespace(role="user", content="obj")],
        [],
        None,
    ):
        _, _, prompt = CHAT.describe({"model": "m", "messages": messages})
        assert callable(prompt)
        assert prompt() == messages_text(messages)
