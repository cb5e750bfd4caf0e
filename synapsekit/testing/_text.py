"""The deterministic completion text, its stream pieces, and JSON that satisfies a requested schema."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

SENTENCE = "Hello from the synapsekit test server: every word here is one token."
SENTENCE_WORDS: tuple[str, ...] = tuple(SENTENCE.split())

# Nested schemas deeper than this are filled with null rather than recursing forever on self-references.
_MAX_SCHEMA_DEPTH = 12


def completion_words(count: int) -> list[str]:
    """``count`` words taken cyclically from :data:`SENTENCE` (one word per output token)."""
    return list(itertools.islice(itertools.cycle(SENTENCE_WORDS), count))


def completion_text(count: int) -> str:
    return " ".join(completion_words(count))


@dataclass(frozen=True)
class Completion:
    """What the model "says": the full text and the pieces a stream sends, one content delta each."""

    text: str
    pieces: list[str]


def plain_reply(output_tokens: int) -> Completion:
    words = completion_words(output_tokens)
    # A leading space on every piece but the first makes the concatenated deltas equal the full text.
    return Completion(
        text=" ".join(words), pieces=[word if i == 0 else f" {word}" for i, word in enumerate(words)]
    )


def structured_reply(document: Any, output_tokens: int) -> Completion:
    """A JSON reply, split into at most ``output_tokens`` slices (at least one, so it stays parseable)."""
    text = json.dumps(document, separators=(",", ":"))
    count = max(1, min(output_tokens, len(text)))
    bounds = [len(text) * i // count for i in range(count + 1)]
    return Completion(text=text, pieces=[text[bounds[i] : bounds[i + 1]] for i in range(count)])


def json_object_document(output_tokens: int) -> dict[str, str]:
    return {"text": completion_text(output_tokens)}


class SchemaFiller:
    """Builds a JSON value for a JSON schema: strings get sentence words, numbers count up from 1."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._words = itertools.cycle(SENTENCE_WORDS)
        self._numbers: Iterator[int] = itertools.count(1)

    def fill(self) -> Any:
        return self._value(self._root, 0)

    def _value(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, Mapping) or depth > _MAX_SCHEMA_DEPTH:
            return None
        if "$ref" in schema:
            return self._value(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[0]
        for combinator in ("anyOf", "oneOf", "allOf"):
            options = schema.get(combinator)
            if isinstance(options, list) and options:
                return self._value(self._first_non_null(options), depth + 1)
        return self._typed_value(schema, self._schema_type(schema), depth)

    def _typed_value(self, schema: Mapping[str, Any], kind: str | None, depth: int) -> Any:
        if kind == "object" or (kind is None and "properties" in schema):
            properties = schema.get("properties")
            if not isinstance(properties, Mapping):
                return {}
            return {name: self._value(sub, depth + 1) for name, sub in properties.items()}
        if kind == "array":
            return [self._value(schema.get("items", {}), depth + 1)]
        if kind == "integer":
            return next(self._numbers)
        if kind == "number":
            return next(self._numbers) + 0.5
        if kind == "boolean":
            return True
        if kind == "string":
            return self._string(schema.get("format"))
        return None

    def _string(self, string_format: Any) -> str:
        if string_format == "date-time":
            return "2025-01-01T00:00:00Z"
        if string_format == "date":
            return "2025-01-01"
        return next(self._words)

    @staticmethod
    def _schema_type(schema: Mapping[str, Any]) -> str | None:
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            return str(kinds[0]) if kinds else None
        return kind if isinstance(kind, str) else None

    @staticmethod
    def _first_non_null(options: list[Any]) -> Any:
        for option in options:
            if not (isinstance(option, Mapping) and option.get("type") == "null"):
                return option
        return options[0]

    def _resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return None
        node: Any = self._root
        for key in ref[2:].split("/"):
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return node
