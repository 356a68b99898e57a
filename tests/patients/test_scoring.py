"""Questionnaire scoring: bands at every boundary, flags, validation naming the item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients import scoring
from patients.scoring import (
    AUDIT_C_POSITIVE_MIN_FEMALE,
    AUDIT_C_POSITIVE_MIN_MALE,
    DAST10,
    GAD7,
    INSTRUMENTS,
    PHQ9,
    ScoringError,
    score_audit_c,
    score_cssrs,
    score_dast10,
    score_gad2,
    score_gad7,
    score_phq2,
    score_phq9,
)


def answers_for(total: int, n: int, top: int = 3, *, last_zero: bool = False) -> list[int]:
    """n answers in 0..top summing to total, filled from the first item (or keeping the
    last item at 0)."""
    out = []
    slots = n - 1 if last_zero else n
    for _ in range(slots):
        take = min(top, total)
        out.append(take)
        total -= take
    assert total == 0, "total out of range for this form"
    return out + ([0] if last_zero else [])


# --- PHQ-9 -------------------------------------------------------------------------------

PHQ9_BOUNDARIES = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "moderately_severe"),
    (19, "moderately_severe"),
    (20, "severe"),
    (27, "severe"),
]


@pytest.mark.parametrize(("total", "band"), PHQ9_BOUNDARIES)
def test_phq9_band_at_every_boundary(total: int, band: str) -> None:
    result = score_phq9(answers_for(total, 9))
    assert result.total == total
    assert result.band == band
    assert result.version == PHQ9.version
    assert result.instrument == "phq9"


@pytest.mark.parametrize(("total", "band"), PHQ9_BOUNDARIES[:-1])
def test_phq9_band_does_not_depend_on_item9(total: int, band: str) -> None:
    result = score_phq9(answers_for(total, 9, last_zero=True))
    assert (result.total, result.band, result.self_harm_flag) == (total, band, False)


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_flags_self_harm_whatever_the_total(item9: int) -> None:
    result = score_phq9([0] * 8 + [item9])
    assert result.band == "minimal"
    assert result.item9 == item9
    assert result.self_harm_flag is True


def test_phq9_item9_zero_is_no_flag_even_when_severe() -> None:
    result = score_phq9([3] * 8 + [0])
    assert result.band == "severe"
    assert result.self_harm_flag is False


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_phq9_properties(answers: list[int]) -> None:
    result = score_phq9(answers)
    assert result.total == sum(answers)
    assert result.answers == tuple(answers)
    assert result.self_harm_flag == (answers[8] > 0)
    band = next(b for b in PHQ9.bands if b.code == result.band)
    assert band.lower <= result.total <= band.upper


# --- GAD-7 -------------------------------------------------------------------------------

GAD7_BOUNDARIES = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "severe"),
    (21, "severe"),
]


@pytest.mark.parametrize(("total", "band"), GAD7_BOUNDARIES)
def test_gad7_band_at_every_boundary(total: int, band: str) -> None:
    result = score_gad7(answers_for(total, 7))
    assert (result.total, result.band, result.instrument) == (total, band, "gad7")


@given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_gad7_total_is_the_sum(answers: list[int]) -> None:
    assert score_gad7(answers).total == sum(answers)


# --- bands are monotone and cover every total --------------------------------------------


@pytest.mark.parametrize("instrument", [PHQ9, GAD7, DAST10], ids=lambda i: i.code)
def test_bands_cover_every_total_without_gaps(instrument: scoring.Instrument) -> None:
    covered = [t for b in instrument.bands for t in range(b.lower, b.upper + 1)]
    assert covered == list(range(instrument.max_total + 1))


@pytest.mark.parametrize("instrument", [PHQ9, GAD7, DAST10], ids=lambda i: i.code)
@given(data=st.data())
def test_band_is_monotone_in_total(instrument: scoring.Instrument, data: st.DataObject) -> None:
    a = data.draw(st.integers(0, instrument.max_total))
    b = data.draw(st.integers(a, instrument.max_total))
    order = [band.code for band in instrument.bands]
    assert order.index(instrument.band_for(a).code) <= order.index(instrument.band_for(b).code)


# --- short forms -------------------------------------------------------------------------


@pytest.mark.parametrize("scorer", [score_phq2, score_gad2])
@pytest.mark.parametrize(
    ("answers", "positive"), [([0, 0], False), ([1, 1], False), ([2, 1], True), ([3, 3], True)]
)
def test_two_item_forms_positive_at_three(
    scorer: Callable[[list[int]], scoring.ShortFormResult], answers: list[int], positive: bool
) -> None:
    result = scorer(answers)
    assert (result.total, result.positive) == (sum(answers), positive)


def test_short_forms_are_the_first_two_items_of_the_full_forms() -> None:
    assert INSTRUMENTS["phq2"].items == PHQ9.items[:2]
    assert INSTRUMENTS["gad2"].items == GAD7.items[:2]


# --- AUDIT-C -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "total", "positive"),
    [
        ("male", 0, False),
        ("male", 3, False),
        ("male", 4, True),
        ("male", 12, True),
        ("female", 2, False),
        ("female", 3, True),
        ("female", 12, True),
        (None, 3, True),  # not given: the more sensitive threshold
        ("intersex", 2, False),
        ("intersex", 3, True),
    ],
)
def test_audit_c_threshold_by_sex_at_birth(sex: str | None, total: int, positive: bool) -> None:
    result = score_audit_c(answers_for(total, 3, top=4), sex_at_birth=sex)
    assert (result.total, result.positive) == (total, positive)


def test_audit_c_thresholds_are_the_published_ones() -> None:
    assert (AUDIT_C_POSITIVE_MIN_MALE, AUDIT_C_POSITIVE_MIN_FEMALE) == (4, 3)


def test_audit_c_items_go_to_four() -> None:
    assert score_audit_c([4, 4, 4], sex_at_birth="female").total == 12
    with pytest.raises(ScoringError) as exc:
        score_audit_c([4, 5, 0], sex_at_birth="female")
    assert exc.value.field == "audit_c.1"


# --- DAST-10 -----------------------------------------------------------------------------


def dast_answers(total: int) -> list[bool]:
    """Yes/no answers scoring `total`: item 3 answered "no" scores 1 (reverse-scored)."""
    answers = [False] * 10
    answers[2] = True  # always able to stop: scores 0
    others = [i for i in range(10) if i != 2]
    if total > 0:
        answers[2] = False
        for i in others[: total - 1]:
            answers[i] = True
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none"),
        (1, "low"),
        (2, "low"),
        (3, "moderate"),
        (5, "moderate"),
        (6, "substantial"),
        (8, "substantial"),
        (9, "severe"),
        (10, "severe"),
    ],
)
def test_dast10_bands(total: int, band: str) -> None:
    result = score_dast10(dast_answers(total))
    assert (result.total, result.band) == (total, band)


def test_dast10_item3_is_reverse_scored() -> None:
    able_to_stop = [False] * 10
    able_to_stop[2] = True
    assert score_dast10(able_to_stop).total == 0
    assert score_dast10([False] * 10).total == 1  # "no, not always able to stop"
    assert score_dast10([True] * 10).total == 9


@given(st.lists(st.booleans(), min_size=10, max_size=10))
def test_dast10_total_is_yes_count_with_item3_flipped(answers: list[bool]) -> None:
    expected = sum(answers) - answers[2] + (not answers[2])
    assert score_dast10(answers).total == expected


# --- C-SSRS screener ---------------------------------------------------------------------


def cssrs(*yes: int, lifetime: bool = False) -> scoring.CssrsResult:
    """yes: 1-based question numbers answered yes."""
    return score_cssrs([q in yes for q in range(1, 7)], lifetime_behavior=lifetime)


@pytest.mark.parametrize(
    ("yes", "lifetime", "risk"),
    [
        ((), False, "low"),
        ((1,), False, "low"),
        ((1, 2), False, "low"),
        ((1, 2, 3), False, "moderate"),
        ((), True, "moderate"),
        ((1, 2, 4), False, "high"),
        ((1, 2, 5), False, "high"),
        ((4,), False, "high"),
        ((5,), False, "high"),
        ((6,), False, "high"),
        ((6,), True, "high"),
    ],
)
def test_cssrs_risk(yes: tuple[int, ...], lifetime: bool, risk: str) -> None:
    result = cssrs(*yes, lifetime=lifetime)
    assert result.risk == risk
    assert result.urgent == (risk == "high")
    assert result.intent_or_plan == (4 in yes or 5 in yes)
    assert result.recent_behavior == (6 in yes)
    assert result.method == (3 in yes)
    assert result.ideation == (1 in yes or 2 in yes)


# --- validation names the item -----------------------------------------------------------


def bad(value: object) -> Any:
    """A deliberately wrong answer, typed Any so mypy lets it through."""
    return value


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: score_phq9([0, 0, 0, 4, 0, 0, 0, 0, 0]), "phq9.3"),
        (lambda: score_phq9([0, 0, 0, 0, 0, 0, 0, 0, -1]), "phq9.8"),
        (lambda: score_phq9([0, bad("1"), 0, 0, 0, 0, 0, 0, 0]), "phq9.1"),
        (lambda: score_phq9([True, 0, 0, 0, 0, 0, 0, 0, 0]), "phq9.0"),
        (lambda: score_phq9([0, 0, 0, 0, 0, 0, 0, bad(1.5), 0]), "phq9.7"),
        (lambda: score_phq9([0] * 8), "phq9"),
        (lambda: score_phq9([0] * 10), "phq9"),
        (lambda: score_phq9(bad("000000000")), "phq9"),
        (lambda: score_phq9(bad(None)), "phq9"),
        (lambda: score_gad7([0, 0, 0, 0, 0, 0, 9]), "gad7.6"),
        (lambda: score_gad7([0] * 6), "gad7"),
        (lambda: score_phq2([0, 4]), "phq2.1"),
        (lambda: score_gad2([0]), "gad2"),
        (lambda: score_audit_c([0, 0], sex_at_birth="male"), "audit_c"),
        (lambda: score_dast10([False] * 4 + [bad(1)] + [False] * 5), "dast10.4"),
        (lambda: score_dast10([False] * 9), "dast10"),
        (lambda: score_cssrs([False, False, bad("yes"), False, False, False]), "cssrs.2"),
        (lambda: score_cssrs([False] * 7), "cssrs"),
    ],
)
def test_invalid_answers_raise_scoring_error_naming_the_item(
    call: Callable[[], object], field: str
) -> None:
    with pytest.raises(ScoringError) as exc:
        call()
    assert exc.value.field == field
    assert isinstance(exc.value, ValueError)
    assert str(exc.value).startswith(field + ":")
    assert exc.value.detail


def test_error_index_is_zero_based() -> None:
    with pytest.raises(ScoringError) as exc:
        score_phq9([0] * 8 + [7])
    assert (exc.value.instrument, exc.value.index) == ("phq9", 8)


# --- instruments as data -----------------------------------------------------------------


@pytest.mark.parametrize("instrument", list(INSTRUMENTS.values()), ids=lambda i: i.code)
def test_instrument_data_is_consistent(instrument: scoring.Instrument) -> None:
    assert instrument.version
    assert len(instrument.options) == len(instrument.items)
    if instrument.answer_type == "yes_no":
        assert all(opts == ("No", "Yes") for opts in instrument.options)
    expected_items = {"phq9": 9, "phq2": 2, "gad7": 7, "gad2": 2, "audit_c": 3, "dast10": 10}
    expected_items["cssrs"] = 6
    assert len(instrument.items) == expected_items[instrument.code]
