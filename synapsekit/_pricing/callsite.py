"""Warnings that point at the user's line, not at synapsekit's.

A warning raised while an LLM call is admitted or priced is many frames below the line that made the call:
synapsekit's own frames, the instrumentor's wrapper, and — for an instrumented SDK — the SDK's frames from
its public method down to the request method we patch. A fixed ``stacklevel`` cannot be right for all of
these paths, so the stack is walked: synapsekit's frames are skipped, and when the outermost of them is an
instrumentor's wrapper, so are the frames of the client it patches (its SDK code between the public method
and the patched one). The first frame left is the caller's. It lives here, in the lowest package, because
pricing warns too. (``warnings.warn(skip_file_prefixes=...)`` of Python 3.12 cannot do this: which client's
frames to skip depends on the path the call took.)
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
    # The client an instrumentor patches, when the outermost of our frames is one of its wrappers:
    # instrumentors are named after their client (synapsekit_instrumentation_openai patches openai).
    patched_package: str | None = None
    last = frame
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            break
        if _is_ours(module):
            if module.startswith(_INSTRUMENTOR_PREFIX):
                patched_package = module[len(_INSTRUMENTOR_PREFIX) :].partition(".")[0]
        elif module.partition(".")[0] != patched_package:
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
