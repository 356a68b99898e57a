import pytest

from prescriptions.quantity_words import quantity_in_words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (1, "one"),
        (10, "ten"),
        (13, "thirteen"),
        (20, "twenty"),
        (21, "twenty-one"),
        (99, "ninety-nine"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (120, "one hundred twenty"),
        (999, "nine hundred ninety-nine"),
        (1000, "one thousand"),
        (2005, "two thousand five"),
        (12345, "twelve thousand three hundred forty-five"),
        (1_000_000, "one million"),
        (1_002_003, "one million two thousand three"),
    ],
)
def test_us_style_words_without_and(n, words):
    assert quantity_in_words(n) == words
    assert " and " not in quantity_in_words(n)


@pytest.mark.parametrize("n", [-1, 1_000_000_000])
def test_out_of_range_is_refused(n):
    with pytest.raises(ValueError, match="outside"):
        quantity_in_words(n)
