"""Patching helpers for instrumentors: wrap a method, remember it is ours, undo only ours.

A wrapper is a four-argument function ``wrapper(wrapped, instance, args, kwargs)`` (wrapt's
convention). ``unwrap_method`` puts back the exact original object, unless somebody else has wrapped on top
of ours since, in which case our wrapper stays in place and passes calls straight through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


class _Patch:
    # A plain class, not a dataclass: this module loads inside ``synapsekit.instrument()``, where generating a
    # dataclass's methods would cost more than the rest of the module.
    __slots__ = ("attribute", "enabled", "original", "owner", "proxy")

    def __init__(self, owner: Any, attribute: str, original: Any, proxy: Any, enabled: list[bool]) -> None:
        self.owner = owner
        self.attribute = attribute
        self.original = original
        self.proxy = proxy
        # wrapt's ``enabled`` switch: while this list is non-empty calls go through our wrapper, once emptied
        # they go straight to the original. A list because wrapt tests its truth in C — a Python guard
        # function here would cost a call on every wrapped call.
        self.enabled = enabled


_patches: dict[tuple[int, str], _Patch] = {}
_lock = threading.Lock()


def wrap_method(owner: Any, attribute: str, wrapper: Wrapper) -> bool:
    """Wrap ``owner.attribute`` (a class or module attribute) with ``wrapper``; False if already ours."""
    with _lock:
        key = (id(owner), attribute)
        if key in _patches:  # unwrapping removes the entry: one here is ours and switched on
            return False
        import wrapt  # here, not at the top: instrumentor modules import this one before any client is there

        original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        patch = _Patch(owner, attribute, original, None, [True])
        proxy = wrapt.FunctionWrapper(original, wrapper, enabled=patch.enabled)  # type: ignore[arg-type]  # truthy by len()
        proxy._self_synapsekit_wrapper = True  # type: ignore[attr-defined]  # wrapt keeps _self_ attributes on the proxy
        patch.proxy = proxy
        setattr(owner, attribute, proxy)
        _patches[key] = patch
        return True


def unwrap_method(owner: Any, attribute: str) -> bool:
    """Undo :func:`wrap_method`; True when the original object is back in place."""
    with _lock:
        patch = _patches.pop((id(owner), attribute), None)
        if patch is None:
            return False
        patch.enabled.clear()
        current = (
            owner.__dict__.get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
        )
        if current is patch.proxy:
            setattr(owner, attribute, patch.original)
            return True
        return False


def is_synapsekit_wrapper(obj: Any) -> bool:
    return bool(getattr(obj, "_self_synapsekit_wrapper", False))
