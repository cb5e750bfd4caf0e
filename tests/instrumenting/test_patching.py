"""wrap_method / unwrap_method: our wrapper in and out, and a wrapper stacked on top of ours left working."""

from __future__ import annotations

from typing import Any

import wrapt

from synapsekit.plugin import is_synapsekit_wrapper, unwrap_method, wrap_method


class Client:
    def complete(self, text: str) -> str:
        return text.upper()


def _recording(seen: list[str]) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        seen.append(args[0])
        return wrapped(*args, **kwargs) + "!"

    return wrapper


def test_wrap_then_unwrap_restores_the_exact_original() -> None:
    original = Client.__dict__["complete"]
    seen: list[str] = []
    assert wrap_method(Client, "complete", _recording(seen)) is True
    assert wrap_method(Client, "complete", _recording(seen)) is False  # already ours: not wrapped twice
    assert is_synapsekit_wrapper(Client.__dict__["complete"])
    assert Client().complete("hi") == "HI!"
    assert unwrap_method(Client, "complete") is True
    assert Client.__dict__["complete"] is original
    assert Client().complete("hi") == "HI"
    assert seen == ["hi"]
    assert unwrap_method(Client, "complete") is False


def test_unwrap_under_a_foreign_wrapper_leaves_ours_passing_calls_straight_through() -> None:
    seen: list[str] = []
    wrap_method(Client, "complete", _recording(seen))
    foreign: list[str] = []
    wrapt.wrap_function_wrapper(Client, "complete", _recording(foreign))
    try:
        assert Client().complete("a") == "A!!"
        # The foreign wrapper sits on top of ours, so ours cannot be taken out: it stays, switched off.
        assert unwrap_method(Client, "complete") is False
        assert Client().complete("b") == "B!"
        assert (seen, foreign) == (["a"], ["a", "b"])
        # Instrumenting again wraps afresh on top; the switched-off wrapper stays out of the way.
        assert wrap_method(Client, "complete", _recording(seen)) is True
        assert Client().complete("c") == "C!!"
        assert seen == ["a", "c"]
        assert unwrap_method(Client, "complete") is True
    finally:
        Client.complete = Client.__dict__["complete"].__wrapped__.__wrapped__  # type: ignore[method-assign]
    assert Client().complete("d") == "D"
