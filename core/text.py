"""What text a person may type where a name, an address or a free-text answer belongs,
and which birth dates are plausible. One definition, used by every serializer that takes
such text (and by the intake questionnaire's free-text sections).

Refused: NUL and the other C0/C1 control characters (free text keeps tab and line
breaks), bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069:
they make a name display as something else), zero-width characters (U+200B-U+200D) and
U+FEFF. Lone surrogates are refused by DRF's CharField already and by core.parsers."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import serializers

from core.clock import practice_today

_INVISIBLE = "\u200b-\u200d\u202a-\u202e\u2066-\u2069\ufeff"
_SINGLE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
# Free text keeps tab, line feed and carriage return (browsers send CRLF line breaks).
_MULTI_LINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_INVISIBLE}]")

EARLIEST_BIRTH_YEAR = 1900


def plain_text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is not plain text a person would type, or None."""
    found = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    if found is None:
        return None
    return f"Contains a control or invisible character (U+{ord(found.group()):04X})."


def validate_plain_text(value: str) -> None:
    if (problem := plain_text_problem(value)) is not None:
        raise ValidationError(problem, code="control_character")


def validate_free_text(value: str) -> None:
    if (problem := plain_text_problem(value, multiline=True)) is not None:
        raise ValidationError(problem, code="control_character")


def validate_birth_date(value: date) -> None:
    if value.year < EARLIEST_BIRTH_YEAR:
        raise ValidationError(
            f"Enter a date of birth after {EARLIEST_BIRTH_YEAR}.", code="implausible_date"
        )
    if value > practice_today():
        raise ValidationError("Date of birth is in the future.", code="implausible_date")


class PlainTextField(serializers.CharField):
    """A name or an address line (single line); `multiline=True` for free text."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(validate_free_text if multiline else validate_plain_text)


class BirthDateField(serializers.DateField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(validate_birth_date)
