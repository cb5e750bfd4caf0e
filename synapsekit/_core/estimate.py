"""Token estimates for text whose exact count the provider has not told us (yet).

Used for budget reservations before a request is sent and for streams cut short before the provider's
usage arrived. The estimate is documented and deliberately simple: one token per four characters, rounded
up — close to the BPE tokenisers' average on English text. Calls whose counts came from here are marked
``usage_estimated``.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_tokens_from_chars(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)  # estimate_tokens_from_chars, without a second call per prompt


def max_chars_within_tokens(tokens: int) -> int:
    """The most characters whose estimate stays within ``tokens``."""
    return tokens * CHARS_PER_TOKEN
