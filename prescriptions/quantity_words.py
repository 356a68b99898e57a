"""A quantity in words, US style, for the prescription (F.S. 456.42 wants numerals and
words): "one hundred twenty", "two thousand five", never "and". Written here rather than
taken from num2words: that library writes the British "one hundred and twenty" and is a
dependency we would have to watch for one small function."""

from __future__ import annotations

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((1_000_000, "million"), (1_000, "thousand"))


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest:
        words.append(_ONES[rest])
    return words


def quantity_in_words(n: int) -> str:
    """`n` (0 to 999,999,999) in US English words, lower case, hyphenated 21-99."""
    if not 0 <= n < 1_000_000_000:
        raise ValueError(f"{n} is outside 0..999,999,999")
    if n == 0:
        return "zero"
    words: list[str] = []
    for size, name in _SCALES:
        count, n = divmod(n, size)
        if count:
            words += [*_below_thousand(count), name]
    words += _below_thousand(n)
    return " ".join(words)
