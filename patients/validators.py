"""Checks on what patients tell us about themselves, each naming what is wrong."""

from __future__ import annotations

import re
from datetime import date

MIN_AGE = 18

# ZIP code prefixes (first three digits) of each state we serve.
ZIP_PREFIX_RANGES = {"FL": (320, 349), "NJ": (70, 89)}


def zip_in_state(zip_code: str, state: str) -> bool:
    if not re.fullmatch(r"[0-9]{5}(-[0-9]{4})?", zip_code) or state not in ZIP_PREFIX_RANGES:
        return False
    low, high = ZIP_PREFIX_RANGES[state]
    return low <= int(zip_code[:3]) <= high


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
