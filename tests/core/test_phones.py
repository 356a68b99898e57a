import pytest

from core.phones import phone_lookup_hash, us_phone_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(305) 555-0123", "+13055550123"),
        ("305.555.0123", "+13055550123"),
        ("+1 305 555 0123", "+13055550123"),
        ("1-305-555-0123", "+13055550123"),
        ("2015550123", "+12015550123"),
        ("(850) 555-0100", "+18505550100"),
    ],
)
def test_us_numbers_in_any_spelling_become_e164(raw, expected):
    assert us_phone_e164(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "911-555-1234",  # N11 service code, not an area code
        "(555) 555-1234",  # unassigned area code
        "999 555 1234",
        "305 055 0123",  # exchange starting with 0
        "+44 20 7946 0958",  # another country
        "1-800-555-0199",  # toll-free: a business, not a person
        "305-555-012",  # too short
        "305-555-01234",  # too long
        "",
        "not a number",
        "+1 305 555 0123 ext. 4" * 10,
    ],
)
def test_what_is_not_a_personal_us_number_is_refused(raw):
    assert us_phone_e164(raw) is None


def test_lookup_hash_is_the_same_however_the_number_is_written():
    assert phone_lookup_hash("(305) 555-0123") == phone_lookup_hash("+13055550123")
    assert phone_lookup_hash("(305) 555-0123") != phone_lookup_hash("(305) 555-0124")
