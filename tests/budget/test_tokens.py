"""Input token counts for reservations: tiktoken only when it can work offline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from synapsekit._budget import tokens as _tokens


def test_models_tiktoken_does_not_know_use_the_documented_estimate() -> None:
    assert _tokens.count_input_tokens("abc abc abc", "budget-test-model") == 3  # 11 chars / 4, rounded up
    assert _tokens.count_input_tokens("x" * 400, "claude-sonnet-4-5") == 100
    assert _tokens.count_input_tokens("", "gpt-4o") == 0
    assert _tokens.count_input_tokens(None, None) == 0


def test_a_known_model_without_a_cached_encoding_falls_back_without_the_network(tmp_path: Path) -> None:
    # The fixture points TIKTOKEN_CACHE_DIR at an empty directory: tiktoken would have to download.
    assert not _tokens.encoding_available_offline("o200k_base")
    assert _tokens.count_input_tokens("Hello there, how are you today?", "gpt-4o-mini") == 8  # 31 chars


def test_a_corrupt_cached_encoding_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    url, _ = _tokens._ENCODING_FILES["cl100k_base"]
    (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"not an encoding")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    _tokens.clear_cache()
    assert _tokens.tiktoken_cache_dir() == str(cache)
    assert not _tokens.encoding_available_offline("cl100k_base")
    assert _tokens.count_input_tokens("x" * 10, "gpt-4") == 3


def test_cache_dir_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert _tokens.tiktoken_cache_dir() is None
    assert not _tokens.encoding_available_offline("o200k_base")
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", "/somewhere")
    assert _tokens.tiktoken_cache_dir() == "/somewhere"
    assert not _tokens.encoding_available_offline("r50k_base")  # not one we know the file of
