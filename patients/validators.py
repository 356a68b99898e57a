"""Checks on what patients tell us about themselves, each naming what is wrong."""

from __future__ import annotations

import re
from datetime import date

MIN_AGE = 18

# ZIP code prefixes (first three digits) of each state we serve.
ZIP_PREFIX_RANGES = {"FL": (320, 349), "NJ": (70, 89)}

_DIGITS = re.compile(r"\D")
# NANP: area code and exchange never start with 0 or 1.
_US_NUMBER = re.compile(r"[2-9][0-9]{2}[2-9][0-9]{6}")


def us_phone_e164(raw: str) -> str | None:
    """ "(305) 555-0123", "305.555.0123", "+1 305 555 0123" -> "+13055550123"; else None."""
    digits = _DIGITS.sub("", raw)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return f"+1{digits}" if _US_NUMBER.fullmatch(digits) else None


def zip_in_state(zip_code: str, state: str) -> bool:
    if not re.fullmatch(r"[0-9]{5}(-[0-9]{4})?", zip_code) or state not in ZIP_PREFIX_RANGES:
        return False
    low, high = ZIP_PREFIX_RANGES[state]
    return low <= int(zip_code[:3]) <= high


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
