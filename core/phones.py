"""US phone numbers: parsed and validated by libphonenumber, stored in E.164, looked up by a
keyed hash (the numbers themselves are encrypted at rest)."""

from __future__ import annotations

import phonenumbers

from core.crypto import keyed_hash

# Numbers a person can be texted or called on; toll-free, premium and shared-cost numbers
# belong to businesses.
_PERSONAL = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


def us_phone_e164(raw: str) -> str | None:
    """ "(305) 555-0123", "305.555.0123", "+1 305 555 0123" -> "+13055550123"; None for
    anything that is not an assigned US personal number (911-style, unassigned area codes,
    other countries, toll-free)."""
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if (
        phonenumbers.region_code_for_number(number) != "US"
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _PERSONAL
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_lookup_hash(phone: str) -> str:
    """Keyed hash of the number in E.164, however it was written."""
    return keyed_hash(us_phone_e164(phone) or phone, purpose="phone")
