"""The API's JSON renderer: DRF's JSONRenderer's bytes, written by orjson.

DRF's renderer runs the standard library's encoder, which calls back into Python for
every datetime and UUID (its encoder's `default`): on a page of 25 delivery orders that
was most of the rendering, and views formatted their instants themselves to avoid it.
orjson writes the same JSON several times faster and formats datetimes, dates and UUIDs
itself, exactly as DRF's encoder does (ISO 8601, "Z" for UTC); anything else it does not
know goes to DRF's encoder (`default`). tests/core/test_renderers.py holds the output to
DRF's, byte for byte, over every kind of value the API returns.

DRF's renderer answers, unchanged, whatever this one would write differently: an indent
asked for, and any value orjson refuses (an integer beyond 64 bits, a key it cannot
write). Three differences stay, for values the API does not write (it has no float
fields, and its instants are UTC): a float NaN or infinity is written as null, where
DRF's strict renderer fails the response; a float under 1e-4 in magnitude is written in
another form of the same number (0.00001 and 1.5e-7 for 1e-05 and 1.5e-07); and an
offset with seconds (a zone's local mean time, before about 1900) is written to the
minute, as RFC 3339 has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework import renderers

_OPTIONS = (
    orjson.OPT_UTC_Z  # DRF's encoder: "+00:00" -> "Z"
    | orjson.OPT_NON_STR_KEYS  # json.dumps writes int, float, bool and None keys
    | orjson.OPT_PASSTHROUGH_DATACLASS  # not JSON to DRF either: its encoder decides
)
# DRF escapes these two so that its JSON is also valid JavaScript; orjson does not.
_LINE_SEPARATORS = (("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None or self.get_indent(accepted_media_type or "", renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            written = orjson.dumps(data, default=self.encoder_class().default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80" in written:  # the first two bytes of both separators (UTF-8)
            for raw, escaped in _LINE_SEPARATORS:
                written = written.replace(raw, escaped)
        return written
