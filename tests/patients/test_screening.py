"""The screening engine: every hard stop and review rule, thresholds, safety, versions."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patients import scoring, screening
from patients.scoring import score_audit_c, score_cssrs, score_dast10
from patients.screening import (
    CONDITIONS,
    CRISIS_RESOURCES,
    CURRENT_RULESET,
    MEDICATION_CLASSES,
    RULESETS,
    URGENT_SAFETY,
    CatalogEntry,
    ScreeningDecision,
    ScreeningError,
    ScreeningInput,
    UnknownRulesetError,
    screen,
    urgent_safety,
)


def make(**overrides: Any) -> ScreeningInput:
    """An adult in Florida with moderate depression and nothing else: eligible."""
    fields: dict[str, Any] = {
        "age": 35,
        "state": "FL",
        "sex_at_birth": "female",
        "phq9_total": 12,
        "phq9_item9": 0,
        "gad7_total": 6,
        "systolic_bp": 120,
        "diastolic_bp": 80,
    }
    fields.update(overrides)
    return ScreeningInput(**fields)


def cssrs(*yes: int, lifetime: bool = False) -> Any:
    return score_cssrs([q in yes for q in range(1, 7)], lifetime_behavior=lifetime)


def dast(total: int) -> Any:
    """DAST-10 answers scoring `total`: yes to the first `total` scored items; item 3
    ("always able to stop", reverse-scored) is yes unless the total is 10."""
    others = [i for i in range(10) if i != 2]
    answers = [i in others[:total] for i in range(10)]
    answers[2] = total <= 9
    result = score_dast10(answers)
    assert result.total == total
    return result


def kinds(decision: ScreeningDecision) -> dict[str, str]:
    return {r.code: r.kind for r in decision.reasons}


def test_baseline_is_eligible_pending_review_with_no_reasons() -> None:
    decision = screen(make())
    assert decision == ScreeningDecision("eligible_pending_review", CURRENT_RULESET, ())
    assert not urgent_safety(decision)


# --- catalogs ----------------------------------------------------------------------------

HARD_STOP_CONDITIONS = {
    "uncontrolled_hypertension",
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "intracerebral_hemorrhage_history",
    "severe_cardiovascular_disease",
    "schizophrenia",
    "psychosis",
    "mania",
    "bipolar_i",
    "active_substance_use_disorder",
    "ketamine_misuse_history",
}
REVIEW_CONDITIONS = {
    "raised_intracranial_pressure",
    "raised_intraocular_pressure",
    "hepatic_impairment",
    "interstitial_cystitis",
    "urinary_symptoms",
    "seizure_disorder",
    "lung_disease",
}
REVIEW_MEDICATIONS = {
    "benzodiazepines",
    "lamotrigine",
    "opioids",
    "stimulants",
    "maois",
    "strong_cyp3a4_modulators",
    "strong_cyp2b6_modulators",
}


def test_catalogs_hold_every_condition_and_medication_class_in_the_domain_rules() -> None:
    assert {c for c, e in CONDITIONS.items() if e.kind == "hard_stop"} == HARD_STOP_CONDITIONS
    assert {c for c, e in CONDITIONS.items() if e.kind == "review"} == REVIEW_CONDITIONS
    assert set(MEDICATION_CLASSES) == REVIEW_MEDICATIONS
    assert all(e.kind == "review" for e in MEDICATION_CLASSES.values())
    assert all(e.label and e.code == code for code, e in CONDITIONS.items())
    assert all(e.label and e.code == code for code, e in MEDICATION_CLASSES.items())


@pytest.mark.parametrize("entry", CONDITIONS.values(), ids=lambda e: e.code)
def test_each_condition_alone(entry: CatalogEntry) -> None:
    decision = screen(make(conditions=frozenset({entry.code})))
    assert kinds(decision) == {f"condition.{entry.code}": entry.kind}
    expected = "not_eligible" if entry.kind == "hard_stop" else "needs_review"
    assert decision.outcome == expected


@pytest.mark.parametrize("entry", MEDICATION_CLASSES.values(), ids=lambda e: e.code)
def test_each_medication_class_alone_needs_review(entry: CatalogEntry) -> None:
    decision = screen(make(medication_classes=frozenset({entry.code})))
    assert decision.outcome == "needs_review"
    assert kinds(decision) == {f"medication.{entry.code}": "review"}


@pytest.mark.parametrize("field", ["conditions", "medication_classes"])
def test_unknown_codes_are_rejected_naming_the_field(field: str) -> None:
    with pytest.raises(ScreeningError) as exc:
        screen(make(**{field: frozenset({"benzodiazepines", "lung_disease", "made_up"})}))
    assert exc.value.field == field
    assert "made_up" in str(exc.value)


# --- who and where -----------------------------------------------------------------------


@pytest.mark.parametrize(("age", "outcome"), [(0, "not_eligible"), (17, "not_eligible")])
def test_under_18_is_not_eligible(age: int, outcome: str) -> None:
    decision = screen(make(age=age))
    assert decision.outcome == outcome
    assert kinds(decision) == {"age_under_18": "hard_stop"}


@pytest.mark.parametrize("age", [18, 19, 90])
def test_18_and_over_passes_the_age_rule(age: int) -> None:
    assert screen(make(age=age)).outcome == "eligible_pending_review"


@pytest.mark.parametrize("state", ["NY", "CA", "PA", "", "Florida"])
def test_outside_fl_and_nj_is_not_yet_served(state: str) -> None:
    decision = screen(make(state=state))
    assert decision.outcome == "not_eligible"
    assert kinds(decision) == {"state_not_served": "hard_stop"}
    assert "not yet serve" in decision.reasons[0].message


@pytest.mark.parametrize("state", ["FL", "NJ", "fl", " nj "])
def test_fl_and_nj_are_served(state: str) -> None:
    assert screen(make(state=state)).outcome == "eligible_pending_review"


def test_pregnant_or_breastfeeding_is_a_hard_stop() -> None:
    decision = screen(make(pregnant_or_breastfeeding=True))
    assert decision.outcome == "not_eligible"
    assert kinds(decision) == {"pregnant_or_breastfeeding": "hard_stop"}


# --- blood pressure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (139, 89, {}),
        (140, 80, {"blood_pressure_raised": "review"}),
        (120, 90, {"blood_pressure_raised": "review"}),
        (159, 99, {"blood_pressure_raised": "review"}),
        (160, 80, {"blood_pressure_uncontrolled": "hard_stop"}),
        (120, 100, {"blood_pressure_uncontrolled": "hard_stop"}),
        (200, 120, {"blood_pressure_uncontrolled": "hard_stop"}),
        (160, None, {"blood_pressure_uncontrolled": "hard_stop"}),
        (None, 95, {"blood_pressure_raised": "review"}),
        (None, None, {}),
    ],
)
def test_blood_pressure_thresholds(
    systolic: int | None, diastolic: int | None, expected: dict[str, str]
) -> None:
    decision = screen(make(systolic_bp=systolic, diastolic_bp=diastolic))
    assert kinds(decision) == expected


def test_blood_pressure_thresholds_are_the_domain_defaults() -> None:
    assert (screening.BP_HARD_STOP_SYSTOLIC, screening.BP_HARD_STOP_DIASTOLIC) == (160, 100)
    assert (screening.BP_REVIEW_SYSTOLIC, screening.BP_REVIEW_DIASTOLIC) == (140, 90)


# --- symptom thresholds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phq9", "gad7", "expected"),
    [
        (10, 0, {}),
        (0, 10, {}),
        (27, 21, {}),
        (9, 9, {"symptoms_below_threshold": "hard_stop"}),
        (0, 0, {"symptoms_below_threshold": "hard_stop"}),
        (9, None, {"symptom_scores_incomplete": "review"}),
        (None, 9, {"symptom_scores_incomplete": "review"}),
        (None, None, {"symptom_scores_incomplete": "review"}),
        (10, None, {}),
        (None, 10, {}),
    ],
)
def test_symptom_threshold_at_ten(
    phq9: int | None, gad7: int | None, expected: dict[str, str]
) -> None:
    assert kinds(screen(make(phq9_total=phq9, gad7_total=gad7))) == expected


# --- self-harm and suicide risk ----------------------------------------------------------


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_item9_needs_review_and_is_urgent_when_total_is_high(item9: int) -> None:
    decision = screen(make(phq9_total=15, phq9_item9=item9))
    assert decision.outcome == "needs_review"
    assert kinds(decision) == {"self_harm_thoughts": "review", URGENT_SAFETY: "info"}
    assert urgent_safety(decision) and decision.urgent_safety


def test_item9_is_urgent_even_when_the_total_is_low() -> None:
    decision = screen(make(phq9_total=1, phq9_item9=1, gad7_total=12))
    assert decision.outcome == "needs_review"
    assert urgent_safety(decision)
    low_everything = screen(make(phq9_total=1, phq9_item9=1, gad7_total=2))
    assert low_everything.outcome == "not_eligible"  # below threshold, yet still urgent
    assert urgent_safety(low_everything)
    assert kinds(low_everything)["self_harm_thoughts"] == "review"


def test_urgent_reason_carries_the_crisis_resources() -> None:
    decision = screen(make(phq9_item9=2))
    (urgent,) = (r for r in decision.reasons if r.code == URGENT_SAFETY)
    assert urgent.message == CRISIS_RESOURCES
    assert "988" in urgent.message


@pytest.mark.parametrize(
    ("yes", "lifetime", "expected", "urgent"),
    [
        ((), False, {}, False),
        ((4,), False, {"suicidal_intent_or_plan": "hard_stop"}, True),
        ((5,), False, {"suicidal_intent_or_plan": "hard_stop"}, True),
        (
            (1, 2, 3, 4, 5),
            False,
            {"suicidal_intent_or_plan": "hard_stop", "suicidal_thoughts": "review"},
            True,
        ),
        ((6,), False, {"recent_suicidal_behavior": "review"}, True),
        ((1,), False, {"suicidal_thoughts": "review"}, True),
        ((2,), False, {"suicidal_thoughts": "review"}, True),
        ((3,), False, {"suicidal_thoughts": "review"}, False),
        ((), True, {"past_suicidal_behavior": "review"}, False),
    ],
)
def test_cssrs(
    yes: tuple[int, ...], lifetime: bool, expected: dict[str, str], urgent: bool
) -> None:
    decision = screen(make(cssrs=cssrs(*yes, lifetime=lifetime)))
    codes = kinds(decision)
    assert codes.pop(URGENT_SAFETY, None) == ("info" if urgent else None)
    assert codes == expected
    assert urgent_safety(decision) is urgent
    if "hard_stop" in expected.values():
        assert decision.outcome == "not_eligible"
    elif expected:
        assert decision.outcome == "needs_review"


# --- alcohol and drugs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "total", "flagged"),
    [("male", 3, False), ("male", 4, True), ("female", 2, False), ("female", 3, True)],
)
def test_audit_c_positive_needs_review(sex: str, total: int, flagged: bool) -> None:
    answers = [min(total, 4), max(total - 4, 0), 0]
    result = score_audit_c(answers, sex_at_birth=sex)
    decision = screen(make(sex_at_birth=sex, audit_c=result))
    assert kinds(decision) == ({"alcohol_use_review": "review"} if flagged else {})


@pytest.mark.parametrize(("total", "flagged"), [(0, False), (5, False), (6, True), (10, True)])
def test_dast10_six_or_more_needs_review(total: int, flagged: bool) -> None:
    decision = screen(make(dast10=dast(total)))
    assert kinds(decision) == ({"drug_use_review": "review"} if flagged else {})


# --- combinations, order, messages -------------------------------------------------------


def test_hard_stop_wins_over_review_and_every_reason_is_kept_in_order() -> None:
    decision = screen(
        make(
            age=17,
            conditions=frozenset({"lung_disease", "schizophrenia"}),
            medication_classes=frozenset({"opioids", "benzodiazepines"}),
            phq9_item9=1,
            systolic_bp=145,
        )
    )
    assert decision.outcome == "not_eligible"
    assert decision.codes() == (
        "age_under_18",
        "condition.schizophrenia",
        "blood_pressure_raised",
        "condition.lung_disease",
        "medication.benzodiazepines",
        "medication.opioids",
        "self_harm_thoughts",
        URGENT_SAFETY,
    )
    assert decision.codes("hard_stop") == ("age_under_18", "condition.schizophrenia")


def test_several_reviews_without_a_hard_stop_need_review() -> None:
    decision = screen(
        make(
            conditions=frozenset({"seizure_disorder"}),
            medication_classes=frozenset({"lamotrigine"}),
            diastolic_bp=92,
        )
    )
    assert decision.outcome == "needs_review"
    assert set(decision.codes("review")) == {
        "condition.seizure_disorder",
        "medication.lamotrigine",
        "blood_pressure_raised",
    }


ALLOWED_NUMBERS = {"18", "988", "911"}


@pytest.mark.parametrize("version", sorted(RULESETS))
def test_messages_are_generic(version: str) -> None:
    everything = make(
        age=10,
        state="TX",
        pregnant_or_breastfeeding=True,
        conditions=frozenset(CONDITIONS),
        medication_classes=frozenset(MEDICATION_CLASSES),
        phq9_total=3,
        phq9_item9=3,
        gad7_total=3,
        cssrs=cssrs(1, 2, 3, 4, 5, 6, lifetime=True),
        systolic_bp=170,
        audit_c=score_audit_c([4, 4, 4], sex_at_birth="male"),
        dast10=dast(10),
    )
    decision = screen(everything, version)
    assert len(decision.reasons) > 30
    for reason in decision.reasons:
        assert reason.message
        assert set(re.findall(r"\d+", reason.message)) <= ALLOWED_NUMBERS, reason
        assert "phq" not in reason.message.lower() and "gad" not in reason.message.lower()


# --- determinism and versions ------------------------------------------------------------

inputs = st.builds(
    ScreeningInput,
    age=st.integers(0, 100),
    state=st.sampled_from(["FL", "NJ", "NY", "fl"]),
    sex_at_birth=st.sampled_from(["male", "female", None]),
    conditions=st.frozensets(st.sampled_from(sorted(CONDITIONS))),
    medication_classes=st.frozensets(st.sampled_from(sorted(MEDICATION_CLASSES))),
    pregnant_or_breastfeeding=st.booleans(),
    phq9_total=st.none() | st.integers(0, 27),
    phq9_item9=st.none() | st.integers(0, 3),
    gad7_total=st.none() | st.integers(0, 21),
    cssrs=st.none()
    | st.builds(
        score_cssrs,
        st.lists(st.booleans(), min_size=6, max_size=6),
        lifetime_behavior=st.booleans(),
    ),
    systolic_bp=st.none() | st.integers(80, 220),
    diastolic_bp=st.none() | st.integers(40, 140),
    audit_c=st.none()
    | st.builds(
        score_audit_c,
        st.lists(st.integers(0, 4), min_size=3, max_size=3),
        sex_at_birth=st.sampled_from(["male", "female"]),
    ),
    dast10=st.none() | st.builds(score_dast10, st.lists(st.booleans(), min_size=10, max_size=10)),
)

KIND_RANK = {"hard_stop": 0, "review": 1, "info": 2}


# Generating inputs runs the scorers: on a busy shared machine that is slow, not wrong.
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(inputs)
def test_decisions_are_deterministic_sorted_and_consistent(inp: ScreeningInput) -> None:
    decision = screen(inp)
    assert screen(inp) == decision
    assert screen(dataclasses.replace(inp), CURRENT_RULESET) == decision
    keys = [(KIND_RANK[r.kind], r.code) for r in decision.reasons]
    assert keys == sorted(set(keys))
    found = {r.kind for r in decision.reasons}
    if "hard_stop" in found:
        assert decision.outcome == "not_eligible"
    elif "review" in found:
        assert decision.outcome == "needs_review"
    else:
        assert decision.outcome == "eligible_pending_review"
    assert decision.ruleset_version == CURRENT_RULESET
    assert decision.urgent_safety == any(r.code == URGENT_SAFETY for r in decision.reasons)
    if inp.phq9_item9 or (inp.cssrs is not None and inp.cssrs.urgent):
        assert decision.urgent_safety


def test_rule_set_2026_11_1_does_not_follow_live_scoring_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The frozen rule set keeps its own AUDIT-C thresholds: changing the scoring module's
    (live) thresholds must not change an old decision."""
    inp = make(sex_at_birth="female", audit_c=score_audit_c([1, 1, 1], sex_at_birth="female"))
    before = screen(inp, "2026-11-1")
    assert before.codes() == ("alcohol_use_review",)
    monkeypatch.setattr(scoring, "AUDIT_C_POSITIVE_MIN_FEMALE", 12)
    monkeypatch.setattr(scoring, "AUDIT_C_POSITIVE_MIN_MALE", 12)
    assert screen(inp, "2026-11-1") == before
    male = make(sex_at_birth="male", audit_c=score_audit_c([2, 1, 1], sex_at_birth="male"))
    assert screen(male, "2026-11-1").codes() == ("alcohol_use_review",)


def test_every_registered_ruleset_stamps_its_own_version() -> None:
    assert CURRENT_RULESET in RULESETS
    for version in RULESETS:
        assert screen(make(), version).ruleset_version == version


def audit_c(*answers: int) -> Any:
    """AUDIT-C answers (the sex passed to the scorer does not matter to the engine)."""
    return score_audit_c(list(answers), sex_at_birth=None)


GOLDEN_2026_11_1 = [
    (make(), "eligible_pending_review", ()),
    # AUDIT-C: 4 or more for men, 3 or more for women and when the sex is not known.
    (make(sex_at_birth="male", audit_c=audit_c(1, 1, 1)), "eligible_pending_review", ()),
    (
        make(sex_at_birth="male", audit_c=audit_c(2, 1, 1)),
        "needs_review",
        ("alcohol_use_review",),
    ),
    (make(sex_at_birth="female", audit_c=audit_c(1, 1, 0)), "eligible_pending_review", ()),
    (
        make(sex_at_birth="female", audit_c=audit_c(1, 1, 1)),
        "needs_review",
        ("alcohol_use_review",),
    ),
    (make(sex_at_birth=None, audit_c=audit_c(3, 0, 0)), "needs_review", ("alcohol_use_review",)),
    (
        make(sex_at_birth="intersex", audit_c=audit_c(0, 0, 3)),
        "needs_review",
        ("alcohol_use_review",),
    ),
    # DAST-10: 6 or more.
    (make(dast10=dast(5)), "eligible_pending_review", ()),
    (make(dast10=dast(6)), "needs_review", ("drug_use_review",)),
    (make(dast10=dast(10)), "needs_review", ("drug_use_review",)),
    # Blood pressure: review at 140/90, hard stop at 160/100 (either number).
    (make(systolic_bp=139, diastolic_bp=89), "eligible_pending_review", ()),
    (make(systolic_bp=140, diastolic_bp=70), "needs_review", ("blood_pressure_raised",)),
    (make(systolic_bp=120, diastolic_bp=90), "needs_review", ("blood_pressure_raised",)),
    (make(systolic_bp=159, diastolic_bp=99), "needs_review", ("blood_pressure_raised",)),
    (make(systolic_bp=160, diastolic_bp=80), "not_eligible", ("blood_pressure_uncontrolled",)),
    (make(systolic_bp=130, diastolic_bp=100), "not_eligible", ("blood_pressure_uncontrolled",)),
    (
        make(
            sex_at_birth="male",
            systolic_bp=150,
            audit_c=audit_c(4, 4, 4),
            dast10=dast(7),
            medication_classes=frozenset({"opioids"}),
        ),
        "needs_review",
        ("alcohol_use_review", "blood_pressure_raised", "drug_use_review", "medication.opioids"),
    ),
    (
        make(gad7_total=None, phq9_total=None, diastolic_bp=90),
        "needs_review",
        ("blood_pressure_raised", "symptom_scores_incomplete"),
    ),
    (
        make(cssrs=cssrs(2, 5), pregnant_or_breastfeeding=True),
        "not_eligible",
        (
            "pregnant_or_breastfeeding",
            "suicidal_intent_or_plan",
            "suicidal_thoughts",
            URGENT_SAFETY,
        ),
    ),
]


@pytest.mark.parametrize(("inp", "outcome", "codes"), GOLDEN_2026_11_1)
def test_ruleset_2026_11_1_is_frozen(
    inp: ScreeningInput, outcome: str, codes: tuple[str, ...]
) -> None:
    """Pinned answers: if this fails, register a new version instead of editing this one."""
    decision = screen(inp, "2026-11-1")
    assert (decision.outcome, decision.codes()) == (outcome, codes)


@pytest.mark.parametrize("version", ["", "2026-11-2", "latest", "2026-11-01"])
def test_unknown_ruleset_version_is_an_error(version: str) -> None:
    with pytest.raises(UnknownRulesetError) as exc:
        screen(make(), version)
    assert isinstance(exc.value, ScreeningError | ValueError)
    assert exc.value.field == "ruleset_version"


# --- input validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", -1),
        ("age", True),
        ("phq9_total", 28),
        ("phq9_item9", 4),
        ("gad7_total", 22),
        ("gad7_total", -1),
        ("systolic_bp", 0),
        ("diastolic_bp", "90"),
        ("pregnant_or_breastfeeding", None),
    ],
)
def test_out_of_range_input_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ScreeningError) as exc:
        make(**{field: value})
    assert exc.value.field == field


def test_condition_codes_may_be_any_iterable_and_are_stored_frozen() -> None:
    inp = make(conditions=["lung_disease", "lung_disease"])
    assert inp.conditions == frozenset({"lung_disease"})
    assert hash(inp) == hash(make(conditions=frozenset({"lung_disease"})))
