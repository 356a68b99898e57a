"""Questionnaire scoring: PHQ-9/PHQ-2, GAD-7/GAD-2, AUDIT-C, DAST-10 and the C-SSRS screener.

Pure functions over plain answers; no models, no database. Each instrument is data
(`Instrument`: items, answer options, bands, version) and has one `score_*` function that
validates the answers and returns a frozen result. Invalid answers raise `ScoringError`,
whose `field` (`"phq9"` or `"phq9.3"`, with a 0-based item index like DRF's ListField
errors) lets a caller report a field error such as `answers.phq9.3`.

Changing how an instrument is scored means a new `version` string on it, so stored results
say which scoring produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

# --- errors ------------------------------------------------------------------------------


class ScoringError(ValueError):
    """Answers that cannot be scored. `index` is the 0-based item index, or None when the
    answer list as a whole is wrong (missing, wrong type, wrong length)."""

    def __init__(self, instrument: str, detail: str, index: int | None = None) -> None:
        self.instrument = instrument
        self.index = index
        self.detail = detail
        super().__init__(f"{self.field}: {detail}")

    @property
    def field(self) -> str:
        return self.instrument if self.index is None else f"{self.instrument}.{self.index}"


# --- instruments as data -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Band:
    lower: int  # inclusive
    upper: int  # inclusive
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Instrument:
    code: str
    name: str
    version: str
    answer_type: Literal["score", "yes_no"]
    items: tuple[str, ...]
    # One tuple of answer labels per item; the label at position n is the answer worth n
    # (before any reverse scoring). Yes/no items are ("No", "Yes").
    options: tuple[tuple[str, ...], ...]
    bands: tuple[Band, ...] = ()
    reverse_scored: frozenset[int] = frozenset()  # 0-based item indexes

    @property
    def item_max(self) -> int:
        return len(self.options[0]) - 1

    @property
    def max_total(self) -> int:
        return sum(len(opts) - 1 for opts in self.options)

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.lower <= total <= band.upper:
                return band
        raise ScoringError(self.code, f"total {total} is outside 0-{self.max_total}")


_FREQUENCY = ("Not at all", "Several days", "More than half the days", "Nearly every day")
_YES_NO = ("No", "Yes")

PHQ9: Final = Instrument(
    code="phq9",
    name="PHQ-9",
    version="2026-11-1",
    answer_type="score",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself or "
        "your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed, or the "
        "opposite: being so fidgety or restless that you have been moving around a lot "
        "more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    options=(_FREQUENCY,) * 9,
    bands=(
        Band(0, 4, "minimal", "Minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 19, "moderately_severe", "Moderately severe"),
        Band(20, 27, "severe", "Severe"),
    ),
)
PHQ9_SELF_HARM_ITEM: Final = 8  # 0-based index of item 9

GAD7: Final = Instrument(
    code="gad7",
    name="GAD-7",
    version="2026-11-1",
    answer_type="score",
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    options=(_FREQUENCY,) * 7,
    bands=(
        Band(0, 4, "minimal", "Minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 21, "severe", "Severe"),
    ),
)

# The two-item short forms are the first two items of the full forms.
PHQ2: Final = Instrument(
    code="phq2",
    name="PHQ-2",
    version="2026-11-1",
    answer_type="score",
    items=PHQ9.items[:2],
    options=PHQ9.options[:2],
)
GAD2: Final = Instrument(
    code="gad2",
    name="GAD-2",
    version="2026-11-1",
    answer_type="score",
    items=GAD7.items[:2],
    options=GAD7.options[:2],
)
SHORT_FORM_POSITIVE_MIN: Final = 3  # PHQ-2 / GAD-2 total >= 3: ask the full form

AUDIT_C: Final = Instrument(
    code="audit_c",
    name="AUDIT-C",
    version="2026-11-1",
    answer_type="score",
    items=(
        "How often do you have a drink containing alcohol?",
        "How many standard drinks containing alcohol do you have on a typical day?",
        "How often do you have six or more drinks on one occasion?",
    ),
    options=(
        (
            "Never",
            "Monthly or less",
            "2-4 times a month",
            "2-3 times a week",
            "4 or more times a week",
        ),
        ("1 or 2", "3 or 4", "5 or 6", "7 to 9", "10 or more"),
        ("Never", "Less than monthly", "Monthly", "Weekly", "Daily or almost daily"),
    ),
)
# Positive screen by sex at birth. Any value other than "male" (female, intersex,
# not given) uses the lower, more sensitive threshold.
AUDIT_C_POSITIVE_MIN_MALE: Final = 4
AUDIT_C_POSITIVE_MIN_FEMALE: Final = 3
SEX_MALE: Final = "male"
SEX_FEMALE: Final = "female"

DAST10: Final = Instrument(
    code="dast10",
    name="DAST-10",
    version="2026-11-1",
    answer_type="yes_no",
    items=(
        "Have you used drugs other than those required for medical reasons?",
        "Do you abuse more than one drug at a time?",
        "Are you always able to stop using drugs when you want to?",
        'Have you had "blackouts" or "flashbacks" as a result of drug use?',
        "Do you ever feel bad or guilty about your drug use?",
        "Does your spouse (or parents) ever complain about your involvement with drugs?",
        "Have you neglected your family because of your use of drugs?",
        "Have you engaged in illegal activities in order to obtain drugs?",
        "Have you ever experienced withdrawal symptoms (felt sick) when you stopped taking drugs?",
        "Have you had medical problems as a result of your drug use (for example memory "
        "loss, hepatitis, convulsions, bleeding)?",
    ),
    options=(_YES_NO,) * 10,
    bands=(
        Band(0, 0, "none", "No problems reported"),
        Band(1, 2, "low", "Low"),
        Band(3, 5, "moderate", "Moderate"),
        Band(6, 8, "substantial", "Substantial"),
        Band(9, 10, "severe", "Severe"),
    ),
    reverse_scored=frozenset({2}),  # item 3: "always able to stop" - yes scores 0
)

CSSRS_SCREEN: Final = Instrument(
    code="cssrs",
    name="C-SSRS Screener",
    version="2026-11-1",
    answer_type="yes_no",
    items=(
        "Have you wished you were dead or wished you could go to sleep and not wake up?",
        "Have you actually had any thoughts of killing yourself?",
        "Have you been thinking about how you might do this?",
        "Have you had these thoughts and had some intention of acting on them?",
        "Have you started to work out or worked out the details of how to kill yourself? "
        "Do you intend to carry out this plan?",
        "In the past 3 months, have you done anything, started to do anything, or "
        "prepared to do anything to end your life?",
    ),
    options=(_YES_NO,) * 6,
)
CSSRS_WISH_DEAD, CSSRS_THOUGHTS, CSSRS_METHOD, CSSRS_INTENT, CSSRS_PLAN, CSSRS_BEHAVIOR = range(6)

INSTRUMENTS: Final = {i.code: i for i in (PHQ9, PHQ2, GAD7, GAD2, AUDIT_C, DAST10, CSSRS_SCREEN)}


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeverityResult:
    """PHQ-9, GAD-7 and DAST-10: a total and the band it falls in."""

    instrument: str
    version: str
    answers: tuple[int, ...]  # item scores after any reverse scoring
    total: int
    band: str
    band_label: str


@dataclass(frozen=True, slots=True)
class Phq9Result(SeverityResult):
    item9: int
    self_harm_flag: bool  # item 9 above 0, whatever the total


@dataclass(frozen=True, slots=True)
class ShortFormResult:
    """PHQ-2 / GAD-2: positive means ask the full form."""

    instrument: str
    version: str
    answers: tuple[int, ...]
    total: int
    positive: bool


@dataclass(frozen=True, slots=True)
class AuditCResult:
    version: str
    answers: tuple[int, ...]
    total: int
    sex_at_birth: str | None
    threshold: int
    positive: bool


CssrsRisk = Literal["low", "moderate", "high"]


@dataclass(frozen=True, slots=True)
class CssrsResult:
    version: str
    answers: tuple[bool, ...]
    lifetime_behavior: bool  # behavior more than 3 months ago
    risk: CssrsRisk

    @property
    def any_positive(self) -> bool:
        return any(self.answers) or self.lifetime_behavior

    @property
    def ideation(self) -> bool:
        """Wish to be dead or thoughts of suicide (Q1/Q2)."""
        return self.answers[CSSRS_WISH_DEAD] or self.answers[CSSRS_THOUGHTS]

    @property
    def method(self) -> bool:
        return self.answers[CSSRS_METHOD]

    @property
    def intent_or_plan(self) -> bool:
        return self.answers[CSSRS_INTENT] or self.answers[CSSRS_PLAN]

    @property
    def recent_behavior(self) -> bool:
        return self.answers[CSSRS_BEHAVIOR]

    @property
    def urgent(self) -> bool:
        return self.risk == "high"


# --- validation --------------------------------------------------------------------------


def _check_list(instrument: Instrument, answers: object) -> Sequence[object]:
    if not isinstance(answers, Sequence) or isinstance(answers, str | bytes):
        raise ScoringError(instrument.code, "must be a list of answers")
    expected = len(instrument.items)
    if len(answers) != expected:
        raise ScoringError(instrument.code, f"needs {expected} answers, got {len(answers)}")
    return answers


def _scores(instrument: Instrument, answers: object) -> tuple[int, ...]:
    items = _check_list(instrument, answers)
    result = []
    for index, value in enumerate(items):
        top = len(instrument.options[index]) - 1
        # bool is an int subclass: True is not a valid Likert answer.
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ScoringError(instrument.code, f"must be a whole number from 0 to {top}", index)
        result.append(value)
    return tuple(result)


def _yes_no(instrument: Instrument, answers: object) -> tuple[bool, ...]:
    items = _check_list(instrument, answers)
    for index, value in enumerate(items):
        if not isinstance(value, bool):
            raise ScoringError(instrument.code, "must be yes (true) or no (false)", index)
    return tuple(bool(v) for v in items)


# --- scoring -----------------------------------------------------------------------------


def _severity(instrument: Instrument, scores: tuple[int, ...]) -> tuple[int, Band]:
    total = sum(scores)
    return total, instrument.band_for(total)


def score_phq9(answers: Sequence[int]) -> Phq9Result:
    scores = _scores(PHQ9, answers)
    total, band = _severity(PHQ9, scores)
    item9 = scores[PHQ9_SELF_HARM_ITEM]
    return Phq9Result(
        instrument=PHQ9.code,
        version=PHQ9.version,
        answers=scores,
        total=total,
        band=band.code,
        band_label=band.label,
        item9=item9,
        self_harm_flag=item9 > 0,
    )


def score_gad7(answers: Sequence[int]) -> SeverityResult:
    scores = _scores(GAD7, answers)
    total, band = _severity(GAD7, scores)
    return SeverityResult(GAD7.code, GAD7.version, scores, total, band.code, band.label)


def _short_form(instrument: Instrument, answers: Sequence[int]) -> ShortFormResult:
    scores = _scores(instrument, answers)
    total = sum(scores)
    return ShortFormResult(
        instrument.code, instrument.version, scores, total, total >= SHORT_FORM_POSITIVE_MIN
    )


def score_phq2(answers: Sequence[int]) -> ShortFormResult:
    return _short_form(PHQ2, answers)


def score_gad2(answers: Sequence[int]) -> ShortFormResult:
    return _short_form(GAD2, answers)


def audit_c_threshold(sex_at_birth: str | None) -> int:
    if sex_at_birth == SEX_MALE:
        return AUDIT_C_POSITIVE_MIN_MALE
    return AUDIT_C_POSITIVE_MIN_FEMALE


def score_audit_c(answers: Sequence[int], *, sex_at_birth: str | None) -> AuditCResult:
    scores = _scores(AUDIT_C, answers)
    total = sum(scores)
    threshold = audit_c_threshold(sex_at_birth)
    return AuditCResult(
        AUDIT_C.version, scores, total, sex_at_birth, threshold, positive=total >= threshold
    )


def score_dast10(answers: Sequence[bool]) -> SeverityResult:
    yes = _yes_no(DAST10, answers)
    scores = tuple(int(not a) if i in DAST10.reverse_scored else int(a) for i, a in enumerate(yes))
    total, band = _severity(DAST10, scores)
    return SeverityResult(DAST10.code, DAST10.version, scores, total, band.code, band.label)


def score_cssrs(answers: Sequence[bool], *, lifetime_behavior: bool = False) -> CssrsResult:
    """The six-question C-SSRS screener. Item 6 is behavior in the past 3 months;
    `lifetime_behavior` is the standard form's "ever, but longer ago" answer.

    Risk: intent or plan (Q4/Q5) or behavior in the past 3 months is high; a method
    (Q3) or older behavior is moderate; otherwise low. Every "yes" is scored as given,
    even where the form's skip logic would not have asked the question.
    """
    yes = _yes_no(CSSRS_SCREEN, answers)
    if not isinstance(lifetime_behavior, bool):
        raise ScoringError(CSSRS_SCREEN.code, "lifetime_behavior must be true or false")
    risk: CssrsRisk
    if yes[CSSRS_INTENT] or yes[CSSRS_PLAN] or yes[CSSRS_BEHAVIOR]:
        risk = "high"
    elif yes[CSSRS_METHOD] or lifetime_behavior:
        risk = "moderate"
    else:
        risk = "low"
    return CssrsResult(CSSRS_SCREEN.version, yes, lifetime_behavior, risk)
