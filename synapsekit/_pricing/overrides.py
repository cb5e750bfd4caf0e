"""User-supplied prices: validation of ``set_price`` arguments and price files.

A price file is JSON or TOML (chosen by the ``.json`` / ``.toml`` suffix) holding a list of entries, each
with the keyword arguments of ``set_price``; prices are USD per million tokens::

    # prices.toml
    [[prices]]
    model = "my-finetune"
    provider = "openai"          # optional: omit to match the model under any provider
    input_per_mtok = 0.30
    output_per_mtok = 1.20
    cached_input_per_mtok = 0.15 # optional, defaults to the input price
    cache_write_per_mtok = 0.375 # optional, defaults to the input price

JSON takes either the bare list or ``{"prices": [...]}``. ``model = "*"`` with a provider prices every
model of that provider (e.g. ``0`` for a local ollama server). Numbers are read as exact decimals.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from synapsekit._pricing.tables import UnitPrices, unit_prices_from_mtok

__all__ = ("WILDCARD_MODEL", "OverrideKey", "PriceValue", "make_override", "read_price_file")

PriceValue = Decimal | int | float | str
# (provider or None for any provider, lower-cased model name)
OverrideKey = tuple[str | None, str]

WILDCARD_MODEL = "*"
_REQUIRED_FIELDS = frozenset({"model", "input_per_mtok", "output_per_mtok"})
_ALLOWED_FIELDS = _REQUIRED_FIELDS | {"provider", "cached_input_per_mtok", "cache_write_per_mtok"}


def _price(field: str, value: object) -> Decimal:
    # bool is an int subclass; a True price is always a mistake.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        # repr() keeps the float the user wrote (0.1 -> "0.1"), not its binary expansion.
        price = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not price.is_finite() or price < 0:
        raise ValueError(f"{field} must be a finite number >= 0, got {value!r}")
    return price


def make_override(
    model: str,
    *,
    input_per_mtok: object,
    output_per_mtok: object,
    cached_input_per_mtok: object = None,
    cache_write_per_mtok: object = None,
    provider: object = None,
    source: str,
) -> tuple[OverrideKey, UnitPrices]:
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    if provider is not None and (not isinstance(provider, str) or not provider.strip()):
        raise ValueError(f"provider must be a non-empty string or None, got {provider!r}")
    model_key = model.strip().lower()
    provider_key = provider.strip().lower() if isinstance(provider, str) else None
    if model_key == WILDCARD_MODEL and provider_key is None:
        raise ValueError('model "*" needs a provider: a price for every model of every provider is a mistake')
    prices = unit_prices_from_mtok(
        input_mtok=_price("input_per_mtok", input_per_mtok),
        output_mtok=_price("output_per_mtok", output_per_mtok),
        cached_input_mtok=None
        if cached_input_per_mtok is None
        else _price("cached_input_per_mtok", cached_input_per_mtok),
        cache_write_mtok=None
        if cache_write_per_mtok is None
        else _price("cache_write_per_mtok", cache_write_per_mtok),
        source=source,
    )
    return (provider_key, model_key), prices


def _toml_loads() -> Callable[..., dict[str, Any]]:
    # tomllib is stdlib from 3.11; on 3.10 the API-compatible tomli backport is used when installed.
    for module_name in ("tomllib", "tomli"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return cast(Callable[..., dict[str, Any]], module.loads)
    raise ValueError("reading TOML price files needs Python 3.11+ or the 'tomli' package")


def _parse(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text, parse_float=Decimal)
        if suffix == ".toml":
            return _toml_loads()(text, parse_float=Decimal)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are both ValueErrors
        raise ValueError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from exc
    raise ValueError(f"{path}: price files must end in .json or .toml")


def read_price_file(path: str | os.PathLike[str]) -> list[tuple[OverrideKey, UnitPrices]]:
    """Every entry of a price file, validated; raises ValueError naming the file and entry on bad input."""
    file_path = Path(path)
    data = _parse(file_path)
    if isinstance(data, Mapping) and set(data) == {"prices"}:
        data = data["prices"]
    if not isinstance(data, list):
        raise ValueError(
            f"{file_path}: expected a list of price entries (TOML: [[prices]] tables, JSON: a list)"
        )
    source = f"user price file {file_path}"
    overrides: list[tuple[OverrideKey, UnitPrices]] = []
    for index, entry in enumerate(cast(list[object], data)):
        where = f"{file_path}: entry {index}"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: expected a table/object, got {entry!r}")
        fields = cast(Mapping[str, object], entry)
        if unknown := set(fields) - _ALLOWED_FIELDS:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if missing := _REQUIRED_FIELDS - set(fields):
            raise ValueError(f"{where}: missing field(s) {', '.join(sorted(missing))}")
        model = fields["model"]
        if not isinstance(model, str):
            raise ValueError(f"{where}: model must be a string, got {model!r}")
        try:
            overrides.append(
                make_override(
                    model,
                    input_per_mtok=fields["input_per_mtok"],
                    output_per_mtok=fields["output_per_mtok"],
                    cached_input_per_mtok=fields.get("cached_input_per_mtok"),
                    cache_write_per_mtok=fields.get("cache_write_per_mtok"),
                    provider=fields.get("provider"),
                    source=source,
                )
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return overrides
