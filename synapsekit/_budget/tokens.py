"""Counting a request's input tokens before it is sent, for its budget reservation.

tiktoken counts exactly for the OpenAI models it knows, but it downloads its encoding files from the
network on first use and there may be no network (or it may hang). So an encoding is used only when its
file is already in tiktoken's cache and matches the published hash, in which case tiktoken reads it without
any network access; otherwise, and for models tiktoken does not know, the documented estimate of
:mod:`synapsekit._core.estimate` (one token per four characters, rounded up) is used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from typing import Final

from synapsekit._core.errors import report_internal_error
from synapsekit._core.estimate import CHARS_PER_TOKEN, estimate_tokens
from synapsekit._core.prompt import PromptParts

# The files tiktoken's OpenAI encodings load, with their published SHA-256 (tiktoken_ext.openai_public).
_ENCODING_FILES: Final[dict[str, tuple[str, str]]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

Counter = Callable[[str], int]

_lock = threading.Lock()
# model name -> its token counter (an encoding's, or the estimate); resolved once per model.
_counters: dict[str, Counter] = {}
_encodings: dict[str, Counter | None] = {}


_preload_started = False
_preloaded = threading.Event()


def preload() -> None:
    """Import tiktoken and load the encodings its cache holds, in a background thread, once per process.

    Importing tiktoken and building an encoding take tens to hundreds of milliseconds, which would
    otherwise land on the first budgeted request.
    """
    global _preload_started
    with _lock:
        if _preload_started:
            return
        _preload_started = True
    threading.Thread(target=_load_encodings, name="synapsekit-tiktoken-preload", daemon=True).start()


def _load_encodings() -> None:
    try:
        with _lock:
            for name in _ENCODING_FILES:
                if name not in _encodings:
                    _encodings[name] = _load_encoding(name)
    except Exception as exc:
        report_internal_error("budget.tiktoken_preload", exc)
    finally:
        _preloaded.set()


def count_input_tokens(text: str | PromptParts | None, model: str | None) -> int:
    """Input tokens of ``text``; the estimate reads only its length (a PromptParts' is summed, not joined)."""
    if text is None:
        return 0
    counter = _counters.get(model or "")
    if counter is None:
        counter = _resolve(model or "")
    if counter is estimate_tokens:
        # estimate_tokens, for a str or the parts of one (0 for an empty prompt): one len() of the parts.
        return -(-len(text) // CHARS_PER_TOKEN)
    if not text:
        return 0
    return counter(text if type(text) is str else str(text))


def tiktoken_cache_dir() -> str | None:
    """Where tiktoken caches its files (same rule as tiktoken.load); None when caching is disabled."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        directory = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        directory = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        directory = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return directory or None


def encoding_available_offline(encoding: str) -> bool:
    """True when tiktoken can load ``encoding`` from its cache, i.e. without touching the network."""
    known = _ENCODING_FILES.get(encoding)
    directory = tiktoken_cache_dir()
    if known is None or directory is None:
        return False
    url, expected_sha256 = known
    path = os.path.join(directory, hashlib.sha1(url.encode()).hexdigest())
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == expected_sha256


def clear_cache() -> None:
    """Forget resolved counters (tests change the tiktoken cache directory)."""
    with _lock:
        _counters.clear()
        _encodings.clear()


def _resolve(model: str) -> Counter:
    if _preload_started:
        _preloaded.wait()  # the preload holds the lock while it loads: wait for it rather than load again
    with _lock:
        counter = _counters.get(model)
        if counter is None:
            counter = _encoding_counter(model) or estimate_tokens
            _counters[model] = counter
        return counter


def _encoding_counter(model: str) -> Counter | None:
    """Caller holds the lock."""
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None
    if name not in _encodings:
        _encodings[name] = _load_encoding(name)
    return _encodings[name]


def _load_encoding(name: str) -> Counter | None:
    """Caller holds the lock. A counter for tiktoken's encoding ``name`` when its cache has it, else None."""
    try:
        import tiktoken
    except ImportError:
        return None
    counter: Counter | None = None
    if encoding_available_offline(name):
        try:
            encoding = tiktoken.get_encoding(name)
        except Exception as exc:
            report_internal_error("budget.tiktoken_load", exc)
        else:

            def counter(text: str) -> int:
                return len(encoding.encode(text, disallowed_special=()))

    return counter
