"""Warnings that point at the user's line, not at synapsekit's.

A warning raised while an LLM call is admitted or priced is many frames below the line that made the call:
synapsekit's own frames, the instrumentor's wrapper, and — for an instrumented SDK — the SDK's frames from
its public method down to the request method we patch. A fixed ``stacklevel`` cannot be right for all of
these paths, so the stack is walked: synapsekit's frames are skipped, and when the outermost of them is an
instrumentor's wrapper, so are the frames of the package that called it (the patched client). The first
frame left is the caller's. It lives here, in the lowest package, because pricing warns too.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType

_INSTRUMENTOR_PREFIX = "synapsekit_instrumentation_"


def _is_ours(module: str) -> bool:
    return module == "synapsekit" or module.startswith(("synapsekit.", _INSTRUMENTOR_PREFIX, "wrapt"))


def user_stacklevel() -> int:
    """The ``stacklevel`` naming the user's frame, for a ``warnings.warn`` made by this function's caller."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    patched_package: str | None = None
    left_through_wrapper = False
    last = frame
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            break
        if _is_ours(module):
            left_through_wrapper = module.startswith(_INSTRUMENTOR_PREFIX)
        elif left_through_wrapper:
            # The client package whose method we patched: its frames down from its public API are not
            # the user's either.
            top = module.partition(".")[0]
            if patched_package is None:
                patched_package = top
            if top != patched_package:
                break
        else:
            break
        last = frame
        frame = frame.f_back
        level += 1
    if frame is None:
        # Every frame was ours (a stream finalised by the garbage collector): name the outermost one.
        frame = last
        level -= 1
    return level


def warn_at_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the user's line as the warning's location."""
    warnings.warn(message, category, stacklevel=user_stacklevel())
