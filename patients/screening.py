"""The eligibility screening engine: deterministic, versioned, pure.

`screen(ScreeningInput)` applies a registered rule set and returns a `ScreeningDecision`
with the rule-set version and every reason, sorted (hard stops, then reviews, then info;
by code within a kind). Outcome: any hard stop is `not_eligible`; else any review is
`needs_review`; else `eligible_pending_review` (a physician still reviews every intake).

Rule sets are never edited once released: a change of rule, threshold or catalog is a new
version registered in `RULESETS`, so re-running an old intake against its stored version
gives the same decision. Reason codes are stable identifiers; messages are generic text a
patient may read (no scores, no diagnosis beyond what the patient told us).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from patients.scoring import AuditCResult, CssrsResult, SeverityResult

Kind = Literal["hard_stop", "review", "info"]
Outcome = Literal["not_eligible", "needs_review", "eligible_pending_review"]

HARD_STOP: Final = "hard_stop"
REVIEW: Final = "review"
INFO: Final = "info"
NOT_ELIGIBLE: Final = "not_eligible"
NEEDS_REVIEW: Final = "needs_review"
ELIGIBLE_PENDING_REVIEW: Final = "eligible_pending_review"
_KIND_ORDER: Final = {HARD_STOP: 0, REVIEW: 1, INFO: 2}

CRISIS_RESOURCES: Final = (
    "If you are thinking about harming yourself, call or text 988 (Suicide & Crisis "
    "Lifeline) at any time, or chat at 988lifeline.org. If you are in immediate danger, "
    "call 911."
)


class ScreeningError(ValueError):
    """Input the engine cannot evaluate; `field` names the ScreeningInput attribute."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")


class UnknownRulesetError(ScreeningError):
    def __init__(self, version: str) -> None:
        super().__init__("ruleset_version", f"unknown screening rule set {version!r}")


# --- catalogs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    code: str
    label: str  # patient-facing wording for the intake form
    kind: Literal["hard_stop", "review"]


def _catalog(*entries: CatalogEntry) -> Mapping[str, CatalogEntry]:
    return MappingProxyType({e.code: e for e in entries})


CONDITIONS: Final = _catalog(
    CatalogEntry("uncontrolled_hypertension", "Uncontrolled high blood pressure", HARD_STOP),
    CatalogEntry(
        "aneurysmal_vascular_disease",
        "Aneurysm of the brain, aorta or another blood vessel",
        HARD_STOP,
    ),
    CatalogEntry("arteriovenous_malformation", "Arteriovenous malformation (AVM)", HARD_STOP),
    CatalogEntry(
        "intracerebral_hemorrhage_history",
        "Bleeding in the brain (intracerebral hemorrhage), now or in the past",
        HARD_STOP,
    ),
    CatalogEntry(
        "severe_cardiovascular_disease",
        "Serious heart or blood vessel disease (for example heart failure, recent heart "
        "attack or unstable angina)",
        HARD_STOP,
    ),
    CatalogEntry("schizophrenia", "Schizophrenia", HARD_STOP),
    CatalogEntry("psychosis", "Psychosis, now or in the past", HARD_STOP),
    CatalogEntry("mania", "Mania, now or in the past", HARD_STOP),
    CatalogEntry("bipolar_i", "Bipolar I disorder", HARD_STOP),
    CatalogEntry(
        "active_substance_use_disorder", "Current alcohol or drug use disorder", HARD_STOP
    ),
    CatalogEntry("ketamine_misuse_history", "Misuse of ketamine, now or in the past", HARD_STOP),
    CatalogEntry("raised_intracranial_pressure", "Raised pressure inside the skull", REVIEW),
    CatalogEntry(
        "raised_intraocular_pressure", "Raised pressure in the eye (for example glaucoma)", REVIEW
    ),
    CatalogEntry("hepatic_impairment", "Liver disease or reduced liver function", REVIEW),
    CatalogEntry("interstitial_cystitis", "Interstitial cystitis (painful bladder)", REVIEW),
    CatalogEntry(
        "urinary_symptoms", "Bladder or urinary problems (pain, urgency, blood in urine)", REVIEW
    ),
    CatalogEntry("seizure_disorder", "Seizures or epilepsy", REVIEW),
    CatalogEntry("lung_disease", "Lung disease (for example COPD, asthma, sleep apnea)", REVIEW),
)

MEDICATION_CLASSES: Final = _catalog(
    CatalogEntry(
        "benzodiazepines",
        "Benzodiazepines (for example alprazolam, clonazepam, diazepam, lorazepam)",
        REVIEW,
    ),
    CatalogEntry("lamotrigine", "Lamotrigine", REVIEW),
    CatalogEntry(
        "opioids",
        "Opioid pain medicines (for example oxycodone, hydrocodone, tramadol, methadone, "
        "buprenorphine)",
        REVIEW,
    ),
    CatalogEntry(
        "stimulants",
        "Stimulants (for example amphetamine, lisdexamfetamine, methylphenidate)",
        REVIEW,
    ),
    CatalogEntry(
        "maois",
        "MAO inhibitors (for example phenelzine, tranylcypromine, isocarboxazid, selegiline)",
        REVIEW,
    ),
    CatalogEntry(
        "strong_cyp3a4_modulators",
        "Medicines that strongly affect the CYP3A4 liver enzyme (for example some "
        "antifungals, antibiotics, HIV medicines, rifampin, carbamazepine, St John's wort)",
        REVIEW,
    ),
    CatalogEntry(
        "strong_cyp2b6_modulators",
        "Medicines that strongly affect the CYP2B6 liver enzyme (ask your pharmacist if "
        "you are not sure)",
        REVIEW,
    ),
)


# --- input and output --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScreeningInput:
    age: int
    state: str  # two-letter code as entered; compared upper-cased
    sex_at_birth: str | None = None
    conditions: frozenset[str] = frozenset()
    medication_classes: frozenset[str] = frozenset()
    pregnant_or_breastfeeding: bool = False
    phq9_total: int | None = None
    phq9_item9: int | None = None
    gad7_total: int | None = None
    cssrs: CssrsResult | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    audit_c: AuditCResult | None = None
    dast10: SeverityResult | None = None

    def __post_init__(self) -> None:
        # Accept any iterable of codes; store frozensets so inputs hash and compare.
        object.__setattr__(self, "conditions", frozenset(self.conditions))
        object.__setattr__(self, "medication_classes", frozenset(self.medication_classes))
        _check_int("age", self.age, 0, 130)
        _check_int("phq9_total", self.phq9_total, 0, 27)
        _check_int("phq9_item9", self.phq9_item9, 0, 3)
        _check_int("gad7_total", self.gad7_total, 0, 21)
        _check_int("systolic_bp", self.systolic_bp, 40, 300)
        _check_int("diastolic_bp", self.diastolic_bp, 20, 200)
        if not isinstance(self.pregnant_or_breastfeeding, bool):
            raise ScreeningError("pregnant_or_breastfeeding", "must be true or false")


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if value is None and name != "age":
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScreeningError(name, f"must be a whole number from {low} to {high}")


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    kind: Kind
    message: str


@dataclass(frozen=True, slots=True)
class ScreeningDecision:
    outcome: Outcome
    ruleset_version: str
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def urgent_safety(self) -> bool:
        return urgent_safety(self)

    def codes(self, kind: Kind | None = None) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons if kind is None or r.kind == kind)


URGENT_SAFETY: Final = "urgent_safety"


def urgent_safety(decision: ScreeningDecision) -> bool:
    """True when a physician must be alerted now (self-harm answers, C-SSRS high risk):
    raise the safety flag, suspend dosing and refills, show `CRISIS_RESOURCES`."""
    return any(r.code == URGENT_SAFETY for r in decision.reasons)


# --- rule set 2026-11-1 -------------------------------------------------------------------
# Frozen: do not edit. A change is a new function and a new RULESETS entry.

MIN_AGE: Final = 18
SERVED_STATES: Final = frozenset({"FL", "NJ"})
PHQ9_ELIGIBLE_MIN: Final = 10
GAD7_ELIGIBLE_MIN: Final = 10
BP_HARD_STOP_SYSTOLIC: Final = 160
BP_HARD_STOP_DIASTOLIC: Final = 100
BP_REVIEW_SYSTOLIC: Final = 140
BP_REVIEW_DIASTOLIC: Final = 90
DAST10_REVIEW_MIN: Final = 6
# AUDIT-C totals needing review, frozen here (not read from patients.scoring, whose live
# thresholds may change): 4 or more for men, 3 or more for everyone else.
AUDIT_C_REVIEW_MIN_MALE: Final = 4
AUDIT_C_REVIEW_MIN_OTHER: Final = 3


def _audit_c_review_min_2026_11_1(sex_at_birth: str | None) -> int:
    return AUDIT_C_REVIEW_MIN_MALE if sex_at_birth == "male" else AUDIT_C_REVIEW_MIN_OTHER


_MESSAGES_2026_11_1: Final[Mapping[str, str]] = MappingProxyType(
    {
        "age_under_18": "At-home ketamine treatment is only available to adults aged 18 or over.",
        "state_not_served": "We do not yet serve patients in your state.",
        "pregnant_or_breastfeeding": (
            "Ketamine treatment is not offered during pregnancy or while breastfeeding."
        ),
        "condition_hard_stop": (
            "A condition in your medical history means at-home ketamine treatment would not "
            "be safe for you."
        ),
        "condition_review": (
            "A condition in your medical history needs a physician's review before treatment."
        ),
        "medication_review": (
            "One of your medications needs a physician to check how it works with ketamine."
        ),
        "suicidal_intent_or_plan": (
            "Your answers show you may be at risk right now. At-home ketamine treatment is "
            "not the right care at this time; please reach out for support now."
        ),
        "recent_suicidal_behavior": (
            "Your answers about your safety need a physician's review before treatment."
        ),
        "suicidal_thoughts": (
            "Your answers about your safety need a physician's review before treatment."
        ),
        "past_suicidal_behavior": (
            "Your answers about your safety need a physician's review before treatment."
        ),
        "self_harm_thoughts": (
            "Your answers about your safety need a physician's review before treatment."
        ),
        URGENT_SAFETY: CRISIS_RESOURCES,
        "blood_pressure_uncontrolled": (
            "Your blood pressure reading is too high for at-home ketamine treatment to be safe."
        ),
        "blood_pressure_raised": (
            "Your blood pressure reading needs a physician's review before treatment."
        ),
        "alcohol_use_review": (
            "Your answers about alcohol need a physician's review before treatment."
        ),
        "drug_use_review": (
            "Your answers about drug use need a physician's review before treatment."
        ),
        "symptoms_below_threshold": (
            "Your answers do not show the level of depression or anxiety symptoms this "
            "treatment is meant for."
        ),
        "symptom_scores_incomplete": (
            "We need your depression and anxiety questionnaires to finish checking eligibility; "
            "a physician will review."
        ),
    }
)


def evaluate_2026_11_1(inp: ScreeningInput) -> ScreeningDecision:
    version = "2026-11-1"
    msg = _MESSAGES_2026_11_1
    _check_codes("conditions", inp.conditions, CONDITIONS)
    _check_codes("medication_classes", inp.medication_classes, MEDICATION_CLASSES)
    reasons: list[Reason] = []

    def add(code: str, kind: Kind, message_key: str | None = None) -> None:
        reasons.append(Reason(code, kind, msg[message_key or code]))

    # Who and where.
    if inp.age < MIN_AGE:
        add("age_under_18", HARD_STOP)
    if inp.state.strip().upper() not in SERVED_STATES:
        add("state_not_served", HARD_STOP)
    if inp.pregnant_or_breastfeeding:
        add("pregnant_or_breastfeeding", HARD_STOP)

    # Medical history and medications.
    for code in inp.conditions:
        entry = CONDITIONS[code]
        add(f"condition.{code}", entry.kind, f"condition_{entry.kind}")
    for code in inp.medication_classes:
        add(f"medication.{code}", REVIEW, "medication_review")

    # Safety. Any self-harm signal alerts a physician now; intent or plan is a hard stop.
    urgent = False
    if inp.phq9_item9 is not None and inp.phq9_item9 > 0:
        add("self_harm_thoughts", REVIEW)
        urgent = True
    if inp.cssrs is not None:
        c = inp.cssrs
        if c.intent_or_plan:
            add("suicidal_intent_or_plan", HARD_STOP)
            urgent = True
        if c.recent_behavior:
            add("recent_suicidal_behavior", REVIEW)
            urgent = True
        if c.ideation or c.method:
            add("suicidal_thoughts", REVIEW)
            urgent = urgent or c.ideation  # mirrors PHQ-9 item 9: any self-harm thought
        if c.lifetime_behavior:
            add("past_suicidal_behavior", REVIEW)
    if urgent:
        add(URGENT_SAFETY, INFO)

    # Blood pressure: either number at or above its threshold.
    sys_bp, dia_bp = inp.systolic_bp, inp.diastolic_bp
    if _at_or_above(sys_bp, dia_bp, BP_HARD_STOP_SYSTOLIC, BP_HARD_STOP_DIASTOLIC):
        add("blood_pressure_uncontrolled", HARD_STOP)
    elif _at_or_above(sys_bp, dia_bp, BP_REVIEW_SYSTOLIC, BP_REVIEW_DIASTOLIC):
        add("blood_pressure_raised", REVIEW)

    # Alcohol and drugs (an active use disorder is a hard stop via the conditions above).
    audit_c_min = _audit_c_review_min_2026_11_1(inp.sex_at_birth)
    if inp.audit_c is not None and inp.audit_c.total >= audit_c_min:
        add("alcohol_use_review", REVIEW)
    if inp.dast10 is not None and inp.dast10.total >= DAST10_REVIEW_MIN:
        add("drug_use_review", REVIEW)

    # Symptoms: PHQ-9 >= 10 or GAD-7 >= 10; with a score missing we cannot say no.
    phq, gad = inp.phq9_total, inp.gad7_total
    meets = (phq is not None and phq >= PHQ9_ELIGIBLE_MIN) or (
        gad is not None and gad >= GAD7_ELIGIBLE_MIN
    )
    if not meets:
        if phq is None or gad is None:
            add("symptom_scores_incomplete", REVIEW)
        else:
            add("symptoms_below_threshold", HARD_STOP)

    return _decide(version, reasons)


def _at_or_above(sys_bp: int | None, dia_bp: int | None, sys_min: int, dia_min: int) -> bool:
    return (sys_bp is not None and sys_bp >= sys_min) or (dia_bp is not None and dia_bp >= dia_min)


def _check_codes(name: str, codes: Iterable[str], catalog: Mapping[str, CatalogEntry]) -> None:
    unknown = sorted(c for c in codes if c not in catalog)
    if unknown:
        raise ScreeningError(name, f"unknown code(s): {', '.join(unknown)}")


def _decide(version: str, reasons: Iterable[Reason]) -> ScreeningDecision:
    ordered = tuple(sorted(set(reasons), key=lambda r: (_KIND_ORDER[r.kind], r.code)))
    kinds = {r.kind for r in ordered}
    outcome: Outcome
    if HARD_STOP in kinds:
        outcome = NOT_ELIGIBLE
    elif REVIEW in kinds:
        outcome = NEEDS_REVIEW
    else:
        outcome = ELIGIBLE_PENDING_REVIEW
    return ScreeningDecision(outcome, version, ordered)


# --- registry ----------------------------------------------------------------------------

Ruleset = Callable[[ScreeningInput], ScreeningDecision]

RULESETS: Final[Mapping[str, Ruleset]] = MappingProxyType({"2026-11-1": evaluate_2026_11_1})
CURRENT_RULESET: Final = "2026-11-1"


def screen(inp: ScreeningInput, ruleset_version: str = CURRENT_RULESET) -> ScreeningDecision:
    try:
        ruleset = RULESETS[ruleset_version]
    except KeyError:
        raise UnknownRulesetError(ruleset_version) from None
    return ruleset(inp)
