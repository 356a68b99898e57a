"""NPI and DEA number checks, compared with small reference implementations written here."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import DeaRegistration, VerificationStatus
from accounts.services.credentials import dea_registration_set
from accounts.validators import dea_check, dea_check_digit_ok, dea_normalize, npi_is_valid
from core.errors import ValidationFailed

# --- reference implementations ----------------------------------------------------------


def reference_luhn_ok(digits: str) -> bool:
    """Textbook Luhn: from the right, double every second digit; the sum ends in 0."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def reference_npi_ok(npi: str) -> bool:
    return re.fullmatch(r"[0-9]{10}", npi) is not None and reference_luhn_ok("80840" + npi)


def reference_npi_check_digit(stem: str) -> str:
    return next(d for d in string.digits if reference_luhn_ok("80840" + stem + d))


def reference_dea_checksum_ok(number: str) -> bool:
    d1, d2, d3, d4, d5, d6, d7 = (int(c) for c in number[2:])
    return ((d1 + d3 + d5) + 2 * (d2 + d4 + d6)) % 10 == d7


def reference_dea_check_digit(first_six: str) -> str:
    d1, d2, d3, d4, d5, d6 = (int(c) for c in first_six)
    return str(((d1 + d3 + d5) + 2 * (d2 + d4 + d6)) % 10)


# --- strategies ---------------------------------------------------------------------------

ascii_digits = st.text(alphabet=string.digits, min_size=1, max_size=1)
npi_stems = st.text(alphabet=string.digits, min_size=9, max_size=9)
ten_digits = st.text(alphabet=string.digits, min_size=10, max_size=10)
upper = st.sampled_from(string.ascii_uppercase)
dea_numbers = st.builds(
    lambda kind, initial, digits: kind + initial + digits,
    upper,
    st.sampled_from(string.ascii_uppercase + "9"),
    st.text(alphabet=string.digits, min_size=7, max_size=7),
)
valid_practitioner_dea = st.builds(
    lambda kind, six: kind + "B" + six + reference_dea_check_digit(six),
    st.sampled_from("ABFG"),
    st.text(alphabet=string.digits, min_size=6, max_size=6),
)
# Printable ASCII without line breaks (a trailing newline is its own test below).
printable_one_line = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + " "
)


# --- NPI ----------------------------------------------------------------------------------


def test_known_valid_npi():
    assert npi_is_valid("1234567893")


def test_known_invalid_npi():
    assert not npi_is_valid("1234567890")


@given(ten_digits)
def test_npi_agrees_with_reference_luhn(npi):
    assert npi_is_valid(npi) == reference_npi_ok(npi)


@given(npi_stems)
def test_npi_with_reference_check_digit_is_valid(stem):
    assert npi_is_valid(stem + reference_npi_check_digit(stem))


@given(npi_stems, ascii_digits)
def test_npi_with_any_other_check_digit_is_invalid(stem, wrong):
    right = reference_npi_check_digit(stem)
    if wrong == right:
        wrong = str((int(right) + 1) % 10)
    assert not npi_is_valid(stem + wrong)


@given(npi_stems, st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=9))
def test_npi_with_any_single_digit_changed_is_invalid(stem, position, delta):
    valid = stem + reference_npi_check_digit(stem)
    changed = valid[:position] + str((int(valid[position]) + delta) % 10) + valid[position + 1 :]
    assert not npi_is_valid(changed)


@given(st.text(alphabet=string.digits, max_size=20).filter(lambda s: len(s) != 10))
def test_npi_of_wrong_length_is_invalid(npi):
    assert not npi_is_valid(npi)


@given(printable_one_line.filter(lambda s: not re.fullmatch(r"[0-9]{10}", s)))
def test_npi_that_is_not_ten_ascii_digits_is_invalid(npi):
    assert not npi_is_valid(npi)


@pytest.mark.parametrize("npi", [" 1234567893", "1234567893 ", "123456789-3", "12345 67893"])
def test_npi_with_spaces_or_punctuation_is_invalid(npi):
    assert not npi_is_valid(npi)


def test_npi_with_trailing_newline_is_invalid():
    assert not npi_is_valid("1234567893\n")


def test_npi_in_non_ascii_digits_is_invalid():
    assert not npi_is_valid("١٢٣٤٥٦٧٨٩٣")  # Arabic-Indic digits for 1234567893


# --- DEA ----------------------------------------------------------------------------------


def test_known_valid_dea():
    check = dea_check("AB1234563", last_name="Byrd")
    assert check.well_formed
    assert check.problems == ()
    assert check.verified


def test_known_bad_dea_checksum():
    check = dea_check("AB1234564", last_name="Byrd")
    assert check.well_formed
    assert check.problems == ("check_digit",)
    assert not check.verified


@given(dea_numbers)
def test_dea_check_digit_agrees_with_reference(number):
    assert dea_check_digit_ok(number) == reference_dea_checksum_ok(number)


@given(dea_numbers, st.sampled_from(["Byrd", "Nolan", "Quinn", "Zhou"]))
def test_dea_problems_agree_with_reference(number, last_name):
    expected = []
    if number[0] not in "ABFG":
        expected.append("registrant_type")
    if number[1] not in (last_name[0], "9"):
        expected.append("last_name_initial")
    if not reference_dea_checksum_ok(number):
        expected.append("check_digit")

    check = dea_check(number, last_name=last_name)

    assert check.well_formed
    assert check.problems == tuple(expected)
    assert check.verified == (not expected)


@given(valid_practitioner_dea)
def test_dea_valid_numbers_are_verified(number):
    assert dea_check(number, last_name="Byrd").verified


@given(valid_practitioner_dea, st.integers(min_value=1, max_value=9))
def test_dea_with_changed_check_digit_is_held(number, delta):
    changed = number[:8] + str((int(number[8]) + delta) % 10)
    assert dea_check(changed, last_name="Byrd").problems == ("check_digit",)


@given(valid_practitioner_dea, st.text(alphabet=string.ascii_letters + string.digits, max_size=6))
def test_dea_suffix_and_lowercase_are_normalized(number, suffix):
    messy = f"  {number.lower()}-{suffix} "
    assert dea_normalize(messy) == number
    assert dea_check(messy, last_name="byrd") == dea_check(number, last_name="Byrd")


@pytest.mark.parametrize("kind", sorted(set(string.ascii_uppercase) - set("ABFG")))
def test_dea_registrant_type_outside_abfg_is_flagged(kind):
    check = dea_check(kind + "B1234563", last_name="Byrd")
    assert check.well_formed
    assert check.problems == ("registrant_type",)


@pytest.mark.parametrize("kind", list("ABFG"))
def test_dea_practitioner_registrant_types_are_accepted(kind):
    assert dea_check(kind + "B1234563", last_name="Byrd").verified


def test_dea_last_name_initial_mismatch_is_flagged():
    assert dea_check("AB1234563", last_name="Nolan").problems == ("last_name_initial",)


def test_dea_initial_nine_is_accepted_for_any_last_name():
    assert dea_check("A91234563", last_name="Nolan").verified


def test_dea_last_name_initial_compared_case_insensitively():
    assert dea_check("AN1234563", last_name="  nolan").verified


@pytest.mark.parametrize(
    "number",
    ["", "AB123456", "AB12345678", "A1234563", "1B1234563", "ABC234563", "AB12345X3", "A 1234563"],
)
def test_dea_malformed_numbers_are_not_well_formed(number):
    check = dea_check(number, last_name="Byrd")
    assert not check.well_formed
    assert check.problems == ("format",)
    assert not check.verified


@given(
    printable_one_line.filter(lambda s: not re.fullmatch(r"[A-Z][A-Z9][0-9]{7}", dea_normalize(s)))
)
def test_dea_anything_not_matching_the_format_is_malformed(number):
    assert dea_check(number, last_name="Byrd") == dea_check("", last_name="Byrd")


def test_dea_in_non_ascii_digits_is_malformed():
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "1234563")  # fullwidth 1234563
    assert not dea_check("AB" + fullwidth, last_name="Byrd").well_formed


def test_dea_with_newline_before_suffix_is_malformed():
    assert not dea_check("AB1234563\n-1", last_name="Byrd").well_formed


# --- dea_registration_set -----------------------------------------------------------------


def register(physician, number):
    return dea_registration_set(
        physician=physician,
        number=number,
        state="FL",
        expires_on=dt.date.today() + dt.timedelta(days=365),
        schedules=["III"],
    )


@pytest.mark.django_db
def test_registration_malformed_number_is_refused(unlicensed_physician):
    with pytest.raises(ValidationFailed) as raised:
        register(unlicensed_physician, "N1234563")
    assert "number" in raised.value.fields
    assert not DeaRegistration.objects.filter(physician=unlicensed_physician).exists()


@pytest.mark.django_db
def test_registration_with_good_number_is_verified(unlicensed_physician):
    registration = register(unlicensed_physician, "AN1234563")
    registration.refresh_from_db()
    assert registration.verification == VerificationStatus.VERIFIED
    assert registration.verification_problems == []


@pytest.mark.django_db
def test_registration_with_bad_checksum_needs_manual_verification(unlicensed_physician):
    registration = register(unlicensed_physician, "AN1234564")
    registration.refresh_from_db()
    assert registration.verification == VerificationStatus.NEEDS_MANUAL_VERIFICATION
    assert registration.verification_problems == ["check_digit"]


@pytest.mark.django_db
def test_registration_with_wrong_initial_needs_manual_verification(unlicensed_physician):
    registration = register(unlicensed_physician, "AB1234563")
    registration.refresh_from_db()
    assert registration.verification == VerificationStatus.NEEDS_MANUAL_VERIFICATION
    assert registration.verification_problems == ["last_name_initial"]


@pytest.mark.django_db
def test_registration_stores_normalized_number(unlicensed_physician):
    registration = register(unlicensed_physician, " an1234563-1a ")
    registration.refresh_from_db()
    assert registration.number == "AN1234563"
    assert registration.verification == VerificationStatus.VERIFIED


@pytest.mark.django_db
def test_registration_fixing_the_number_replaces_the_held_one(unlicensed_physician):
    register(unlicensed_physician, "AN1234564")
    register(unlicensed_physician, "AN1234563")
    registration = DeaRegistration.objects.get(physician=unlicensed_physician, state="FL")
    assert registration.number == "AN1234563"
    assert registration.verification == VerificationStatus.VERIFIED
    assert registration.verification_problems == []
