"""The API's JSON parser: strict UTF-8, a small nesting limit checked before parsing, and
no string (key or value) that PostgreSQL or our JSON renderer cannot hold.

Python's json module recurses once per bracket, so a body of a few thousand `[` ends in a
RecursionError (a 500) before any serializer runs; no real document of ours nests past a
handful of levels. Lone surrogates (`"\\ud800"`) decode fine but fail later, when an error
message echoes them or a JSON field is encrypted; NUL cannot be stored in text or jsonb."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32

# A JSON string literal (escapes included); what is left outside them is structure.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_FORBIDDEN = re.compile(r"[\ud800-\udfff\x00]")
_UNPRINTABLE = re.compile(r"[\ud800-\udfff\x00-\x1f\x7f-\x9f]")


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than `limit` (scanned, not parsed)."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def unstorable_text(data: Any, path: str = "") -> str | None:
    """The dotted path of the first key or string holding a lone surrogate or NUL, or None.
    Call only on data already held to MAX_JSON_DEPTH (it recurses)."""
    if isinstance(data, str):
        return path if _FORBIDDEN.search(data) else None
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if _FORBIDDEN.search(key):
                return here
            if (found := unstorable_text(value, here)) is not None:
                return found
    elif isinstance(data, list):
        for index, item in enumerate(data):
            if (
                found := unstorable_text(item, f"{path}.{index}" if path else str(index))
            ) is not None:
                return found
    return None


def printable_path(path: str) -> str:
    """A field path safe to echo in an error: surrogates and controls as escapes."""
    return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", path)


def json_loads_strict(data: bytes) -> Any:
    """Parse a JSON body under the rules above; raises ParseError or ValidationError (400)."""
    if json_too_deep(data):
        raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise exceptions.ParseError("The body is not valid UTF-8.") from None
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise exceptions.ParseError(f"JSON parse error - {error}") from None
    if (path := unstorable_text(parsed)) is not None:
        field = printable_path(path) or "non_field_errors"
        raise exceptions.ValidationError(
            {field: ["Text must be valid Unicode without NUL characters."]}
        )
    return parsed


def json_body_problem(data: bytes) -> str | None:
    """For a raw body read by hand (a webhook): why it breaks the rules above, or None.
    A body that is not JSON at all is left to its reader."""
    if json_too_deep(data):
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels."
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    if unstorable_text(parsed) is not None:
        return "Text must be valid Unicode without NUL characters."
    return None


class StrictJSONParser(JSONParser):
    """DRF's JSONParser with a depth limit, strict UTF-8 and storable text only."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return json_loads_strict(stream.read() if stream is not None else b"")
