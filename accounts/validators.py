"""Identifier checks for prescribers: NPI (Luhn with the 80840 prefix) and DEA numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

NPI_PATTERN = re.compile(r"^[0-9]{10}$")
DEA_PATTERN = re.compile(r"^[A-Z][A-Z9][0-9]{7}$")
# Registrant types for practitioners (DOMAIN.md); others are held for manual review.
DEA_PRACTITIONER_TYPES = frozenset("ABFG")


def npi_is_valid(npi: str) -> bool:
    """10 digits whose last is the Luhn check digit of "80840" + the first nine."""
    if not NPI_PATTERN.fullmatch(npi):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    # Double every second digit from the right of the payload (the check digit is appended).
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


# DEA certificates print schedules as 2, 2N, 3, 3N, 4, 5; we store them as roman numerals.
_SCHEDULES = {"2": "II", "2N": "IIN", "3": "III", "3N": "IIIN", "4": "IV", "5": "V"}
DEA_SCHEDULES = frozenset(_SCHEDULES.values())
# Ketamine is Schedule III non-narcotic: either III or IIIN covers it.
SCHEDULE_III = frozenset({"III", "IIIN"})


def dea_schedules_normalize(schedules: list[str]) -> list[str] | None:
    """Canonical roman schedules, or None if any entry is not a DEA schedule."""
    normalized = set()
    for raw in schedules:
        value = raw.strip().upper().replace(" ", "")
        value = _SCHEDULES.get(value, value)
        if value not in DEA_SCHEDULES:
            return None
        normalized.add(value)
    return sorted(normalized)


def validate_npi(value: str) -> None:
    if not npi_is_valid(value):
        raise ValidationError("Not a valid NPI (10 digits with a Luhn check digit).")


def dea_normalize(number: str) -> str:
    """Upper-case, without the `-suffix` some registrations carry."""
    return number.strip().upper().split("-", 1)[0]


def dea_check_digit_ok(number: str) -> bool:
    d = [int(c) for c in number[2:]]
    total = (d[0] + d[2] + d[4]) + 2 * (d[1] + d[3] + d[5])
    return total % 10 == d[6]


@dataclass(frozen=True)
class DeaCheck:
    well_formed: bool
    problems: tuple[str, ...]

    @property
    def verified(self) -> bool:
        return self.well_formed and not self.problems


def dea_check(number: str, *, last_name: str) -> DeaCheck:
    """Format first (a malformed number is refused); then the checks that, when they
    fail, hold the registration for manual verification instead of accepting it."""
    normalized = dea_normalize(number)
    if not DEA_PATTERN.fullmatch(normalized):
        return DeaCheck(False, ("format",))
    problems = []
    if normalized[0] not in DEA_PRACTITIONER_TYPES:
        problems.append("registrant_type")
    initial = (last_name.strip()[:1] or "?").upper()
    if normalized[1] not in (initial, "9"):
        problems.append("last_name_initial")
    if not dea_check_digit_ok(normalized):
        problems.append("check_digit")
    return DeaCheck(True, tuple(problems))
