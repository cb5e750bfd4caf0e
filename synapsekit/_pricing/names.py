"""Model-name normalisation for price lookups.

Providers report names that pricing data does not always know verbatim: dated snapshots
(``gpt-4o-mini-2024-07-18``, ``claude-sonnet-4-5@20250929``), router prefixes (``openai/gpt-4o``) and
router variants (``…:free``). Lookups try the name as reported first, because a dated snapshot can have
its own price (``gpt-4o-2024-05-13`` costs twice ``gpt-4o``), and fall back to ever more normalised forms.
"""

from __future__ import annotations

import re

__all__ = ("model_name_candidates", "normalize_model_name", "split_router_prefix")

# Only router variants are stripped: a general ":tag" is meaningful elsewhere (ollama's "llama3:70b").
_VARIANT_SUFFIX = re.compile(r":(?:free|beta|extended|nitro|floor|online|thinking|exacto)$")
# A dated snapshot: -2024-07-18, -20250929, @20250929, or a legacy four-digit stamp (gpt-4-0613).
_DATE_SUFFIX = re.compile(
    r"(?:[-@]20\d{2}-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12]\d|3[01])|-\d{4})$",
)


def _strip_variant(name: str) -> str:
    return _VARIANT_SUFFIX.sub("", name)


def _strip_date(name: str) -> str:
    return _DATE_SUFFIX.sub("", name)


def _strip_prefix(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def normalize_model_name(model: str) -> str:
    """The most general form of ``model``: lower case, no router prefix, variant or date suffix.

    >>> normalize_model_name("openai/gpt-4o-mini-2024-07-18:free")
    'gpt-4o-mini'
    """
    return _strip_date(_strip_prefix(_strip_variant(model.strip().lower())))


def model_name_candidates(model: str) -> tuple[str, ...]:
    """Names to try for ``model``, most specific first, without duplicates."""
    exact = model.strip().lower()
    no_variant = _strip_variant(exact)
    unprefixed = _strip_prefix(no_variant)
    ordered = (exact, no_variant, _strip_date(no_variant), unprefixed, _strip_date(unprefixed))
    return tuple(dict.fromkeys(name for name in ordered if name))


def split_router_prefix(model: str) -> tuple[str, str] | None:
    """``("openai", "gpt-4o")`` for ``"openai/gpt-4o"``; ``None`` when the name carries no prefix."""
    upstream, sep, rest = _strip_variant(model.strip().lower()).partition("/")
    if not sep or not upstream or not rest:
        return None
    return upstream, rest
